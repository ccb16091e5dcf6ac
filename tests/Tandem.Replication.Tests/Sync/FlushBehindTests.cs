using Tandem.Replication.Sync;

namespace Tandem.Replication.Tests.Sync;

public sealed class FlushBehindTests
{
    private const long Step = FlushBehind.BytesPerFlush;

    [Fact]
    public async Task A_flush_starts_once_enough_bytes_are_applied_and_only_one_runs_at_a_time()
    {
        var release = new TaskCompletionSource();
        int started = 0;
        int tracked = 0;
        var flushing = new FlushBehind(async () =>
        {
            Interlocked.Increment(ref started);
            await release.Task;
        }, _ => tracked++);

        flushing.Applied(Step - 1);
        Assert.Equal(0, Volatile.Read(ref started));
        flushing.Applied(1);
        await WaitForAsync(() => Volatile.Read(ref started) == 1);

        // The disk is behind: more data does not pile up a second flush.
        flushing.Applied(3 * Step);
        await Task.Delay(50);
        Assert.Equal(1, Volatile.Read(ref started));
        Assert.Equal(1, tracked); // handed to the device, which waits for it on dispose

        release.SetResult();
        await flushing.DrainAsync();
        flushing.Applied(Step); // the backlog and this: the next flush covers both
        await WaitForAsync(() => Volatile.Read(ref started) == 2);
        await flushing.DrainAsync();
        Assert.Null(flushing.Failure);
    }

    [Fact]
    public async Task A_failed_flush_is_kept_and_every_drain_reports_it()
    {
        var flushing = new FlushBehind(() => ValueTask.FromException(new IOException("injected")), _ => { });
        flushing.Applied(Step);
        await WaitForAsync(() => flushing.Failure is not null);
        Assert.IsType<IOException>(flushing.Failure);
        await Assert.ThrowsAsync<IOException>(flushing.DrainAsync);
        await Assert.ThrowsAsync<IOException>(flushing.DrainAsync); // a later successful fdatasync would not bring the writes back
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(5);
        }
    }
}
