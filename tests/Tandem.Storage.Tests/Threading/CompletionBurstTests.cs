using Tandem.Storage.Threading;

namespace Tandem.Storage.Tests.Threading;

public sealed class CompletionBurstTests
{
    [Fact]
    public void Without_a_burst_nothing_parks()
    {
        Assert.False(new BurstGate().TryPark());
    }

    [Fact]
    public async Task A_parked_loop_resumes_inline_when_the_burst_ends()
    {
        var gate = new BurstGate();
        int thread = Environment.CurrentManagedThreadId;
        int resumedOn = 0;
        CompletionBurst.Begin();
        Assert.True(gate.TryPark());
        var resumed = ResumeAsync(gate, () => resumedOn = Environment.CurrentManagedThreadId);
        Assert.False(resumed.IsCompleted);
        CompletionBurst.End();
        Assert.True(resumed.IsCompleted);
        Assert.Equal(thread, resumedOn);
        await resumed;
        Assert.False(CompletionBurst.IsOpen);
    }

    [Fact]
    public void Flush_releases_without_closing_and_nested_bursts_release_at_the_outermost_end()
    {
        var first = new BurstGate();
        var second = new BurstGate();
        CompletionBurst.Begin();
        CompletionBurst.Begin();
        Assert.True(first.TryPark());
        var a = first.WaitAsync();
        CompletionBurst.Flush();
        Assert.True(a.IsCompleted);
        Assert.True(CompletionBurst.IsOpen);

        Assert.True(second.TryPark());
        var b = second.WaitAsync();
        CompletionBurst.End();
        Assert.False(b.IsCompleted);
        CompletionBurst.End();
        Assert.True(b.IsCompleted);
        Assert.Throws<InvalidOperationException>(CompletionBurst.End);
    }

    [Fact]
    public async Task A_gate_is_reusable()
    {
        var gate = new BurstGate();
        for (int i = 0; i < 3; i++)
        {
            CompletionBurst.Begin();
            Assert.True(gate.TryPark());
            var wait = gate.WaitAsync();
            CompletionBurst.End();
            await wait;
        }
    }

    private static async Task ResumeAsync(BurstGate gate, Action after)
    {
        await gate.WaitAsync().ConfigureAwait(false); // as the send loop awaits it: no context to post back to
        after();
    }
}
