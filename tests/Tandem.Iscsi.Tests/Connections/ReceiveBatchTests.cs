using Tandem.Iscsi.Connections;
using Tandem.Storage.Threading;

namespace Tandem.Iscsi.Tests.Connections;

public sealed class ReceiveBatchTests
{
    [Fact]
    public void An_open_batch_never_parks_sends()
    {
        var batch = new ReceiveBatch();
        Assert.False(batch.TryParkSends());
        batch.Engage();
        batch.End();
        Assert.False(batch.TryParkSends());
    }

    [Fact]
    public void A_parked_send_loop_resumes_on_the_thread_that_ends_the_batch()
    {
        var batch = new ReceiveBatch();
        batch.Engage();
        Assert.True(batch.TryParkSends());
        ValueTask wait = batch.WaitAsync();
        Assert.False(wait.IsCompleted);

        int resumedOn = -1;
        OnResume(wait, () => resumedOn = Environment.CurrentManagedThreadId);
        batch.End();
        Assert.Equal(Environment.CurrentManagedThreadId, resumedOn);
        Assert.False(batch.TryParkSends()); // ended: open again
    }

    [Fact]
    public void Ending_the_batch_runs_deferred_link_flushes_once_before_sends_resume()
    {
        var batch = new ReceiveBatch();
        var order = new List<string>();
        var link = new RecordingFlush(order);
        batch.Engage();
        using (NoWait.Enter(batch.Deferred))
        {
            Assert.True(NoWait.TryDefer(link));
            Assert.True(NoWait.TryDefer(link)); // a second write on the same link: still one flush
        }
        Assert.False(NoWait.TryDefer(link)); // outside the scope the caller flushes itself
        Assert.True(batch.TryParkSends());
        OnResume(batch.WaitAsync(), () => order.Add("sends"));
        Assert.Empty(order);

        batch.End();
        Assert.Equal(["flush", "sends"], order);
        batch.End();
        Assert.Equal(2, order.Count);
    }

    private sealed class RecordingFlush(List<string> order) : IDeferredFlush
    {
        public void Flush() => order.Add("flush");
    }

    [Fact]
    public void An_end_before_the_wait_lets_the_loop_through()
    {
        var batch = new ReceiveBatch();
        batch.Engage();
        Assert.True(batch.TryParkSends());
        batch.End();
        Assert.True(batch.WaitAsync().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task The_batch_is_reusable()
    {
        var batch = new ReceiveBatch();
        for (int i = 0; i < 3; i++)
        {
            batch.Engage();
            batch.Engage(); // engaging twice is harmless
            Assert.True(batch.TryParkSends());
            ValueTask wait = batch.WaitAsync();
            batch.End();
            batch.End(); // ending twice is harmless
            Assert.True(wait.IsCompletedSuccessfully);
            await wait;
        }
    }

    /// <summary>Registers a continuation as the send loop's <c>await ... ConfigureAwait(false)</c> does.</summary>
    private static void OnResume(ValueTask wait, Action continuation) =>
        wait.ConfigureAwait(false).GetAwaiter().OnCompleted(continuation);
}
