using Tandem.Iscsi.Connections;

namespace Tandem.Iscsi.Tests.Connections;

public sealed class SendHoldTests
{
    [Fact]
    public void A_free_hold_never_parks()
    {
        var hold = new SendHold();
        Assert.False(hold.TryPark());
        hold.Engage();
        hold.Release();
        Assert.False(hold.TryPark());
    }

    [Fact]
    public void A_parked_send_loop_resumes_on_the_releasing_thread()
    {
        var hold = new SendHold();
        hold.Engage();
        Assert.True(hold.TryPark());
        ValueTask wait = hold.WaitAsync();
        Assert.False(wait.IsCompleted);

        int resumedOn = -1;
        OnResume(wait, () => resumedOn = Environment.CurrentManagedThreadId);
        hold.Release();
        Assert.Equal(Environment.CurrentManagedThreadId, resumedOn);
        Assert.False(hold.TryPark()); // released: free again
    }

    [Fact]
    public void A_release_before_the_wait_lets_the_loop_through()
    {
        var hold = new SendHold();
        hold.Engage();
        Assert.True(hold.TryPark());
        hold.Release();
        Assert.True(hold.WaitAsync().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task The_hold_is_reusable()
    {
        var hold = new SendHold();
        for (int i = 0; i < 3; i++)
        {
            hold.Engage();
            hold.Engage(); // engaging twice is harmless
            Assert.True(hold.TryPark());
            ValueTask wait = hold.WaitAsync();
            hold.Release();
            hold.Release(); // releasing twice is harmless
            Assert.True(wait.IsCompletedSuccessfully);
            await wait;
        }
    }

    /// <summary>Registers a continuation as the send loop's <c>await ... ConfigureAwait(false)</c> does.</summary>
    private static void OnResume(ValueTask wait, Action continuation) =>
        wait.ConfigureAwait(false).GetAwaiter().OnCompleted(continuation);
}
