using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Ordering;

public sealed class RangeLockTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static RangeLock.Holder Now(ValueTask<RangeLock.Holder> acquisition)
    {
        Assert.True(acquisition.IsCompletedSuccessfully, "expected the range to be free");
        return acquisition.Result;
    }

    /// <summary>Waiters resume asynchronously; give a granted one a moment before asserting it is still waiting.</summary>
    private static async Task AssertStillWaiting(params Task[] tasks)
    {
        await Task.Delay(20);
        foreach (var task in tasks)
            Assert.False(task.IsCompleted, "a waiter was granted too early");
    }

    [Fact]
    public void Disjoint_and_adjacent_ranges_are_held_concurrently_without_waiting()
    {
        var ranges = new RangeLock();
        var a = Now(ranges.AcquireAsync(0, 4));
        var b = Now(ranges.AcquireAsync(4, 4));
        var c = Now(ranges.AcquireAsync(100, 1));
        Assert.Equal(3, ranges.HeldCount);
        a.Dispose();
        b.Dispose();
        c.Dispose();
        Assert.Equal(0, ranges.HeldCount);
    }

    [Fact]
    public async Task An_overlapping_request_waits_for_the_release()
    {
        var ranges = new RangeLock();
        var first = Now(ranges.AcquireAsync(0, 8));
        var second = ranges.AcquireAsync(7, 2).AsTask();
        await AssertStillWaiting(second);
        Assert.Equal(1, ranges.WaitingCount);
        first.Dispose();
        using var held = await second.WaitAsync(Timeout);
        Assert.Equal(1, ranges.HeldCount);
        Assert.Equal(0, ranges.WaitingCount);
    }

    [Fact]
    public async Task A_waiting_fence_is_not_starved_by_later_small_requests()
    {
        var ranges = new RangeLock();
        var write = Now(ranges.AcquireAsync(0, 4));
        var fence = ranges.AcquireAsync(0, 1000).AsTask();
        // Free of holders, but overlaps the earlier waiting fence: waits behind it.
        var later = ranges.AcquireAsync(500, 1).AsTask();
        // Overlaps nothing: proceeds.
        using (Now(ranges.AcquireAsync(2000, 1))) { }
        await AssertStillWaiting(fence, later);

        write.Dispose();
        var fenceHolder = await fence.WaitAsync(Timeout);
        await AssertStillWaiting(later);
        fenceHolder.Dispose();
        (await later.WaitAsync(Timeout)).Dispose();
        Assert.Equal(0, ranges.HeldCount);
    }

    [Fact]
    public async Task Waiters_are_granted_in_arrival_order_among_overlapping_ones()
    {
        var ranges = new RangeLock();
        var blocker = Now(ranges.AcquireAsync(0, 4));
        var w1 = ranges.AcquireAsync(0, 2).AsTask();
        var w2 = ranges.AcquireAsync(1, 3).AsTask();    // overlaps w1
        var w3 = ranges.AcquireAsync(0, 1).AsTask();    // overlaps w1, not w2
        var w4 = ranges.AcquireAsync(3, 1).AsTask();    // overlaps the blocker only, but w2 (earlier) too
        Assert.Equal(4, ranges.WaitingCount);

        blocker.Dispose();
        var h1 = await w1.WaitAsync(Timeout);
        await AssertStillWaiting(w2, w3, w4);

        h1.Dispose();
        var h2 = await w2.WaitAsync(Timeout);
        var h3 = await w3.WaitAsync(Timeout);            // w1 gone, w2 does not overlap it
        await AssertStillWaiting(w4);

        h2.Dispose();
        var h4 = await w4.WaitAsync(Timeout);
        h3.Dispose();
        h4.Dispose();
        Assert.Equal(0, ranges.HeldCount);
        Assert.Equal(0, ranges.WaitingCount);
    }

    [Fact]
    public async Task Cancelling_a_waiter_removes_it_and_wakes_the_ones_it_held_back()
    {
        var ranges = new RangeLock();
        var blocker = Now(ranges.AcquireAsync(0, 2));
        using var cts = new CancellationTokenSource();
        var fence = ranges.AcquireAsync(0, 100, cts.Token).AsTask();
        var behindFence = ranges.AcquireAsync(50, 1).AsTask();  // blocked only by the fence
        await AssertStillWaiting(fence, behindFence);

        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fence.WaitAsync(Timeout));
        using (await behindFence.WaitAsync(Timeout)) { }
        Assert.Equal(0, ranges.WaitingCount);
        Assert.Equal(1, ranges.HeldCount);
        blocker.Dispose();
        Assert.Equal(0, ranges.HeldCount);

        // The cancelled entry was recycled cleanly: the lock still works.
        using (Now(ranges.AcquireAsync(0, 100))) { }
    }

    [Fact]
    public async Task Cancelling_after_the_grant_keeps_the_lock()
    {
        var ranges = new RangeLock();
        var blocker = Now(ranges.AcquireAsync(0, 2));
        using var cts = new CancellationTokenSource();
        var waiter = ranges.AcquireAsync(0, 2, cts.Token).AsTask();
        blocker.Dispose();
        var held = await waiter.WaitAsync(Timeout);
        cts.Cancel();
        Assert.Equal(1, ranges.HeldCount);
        held.Dispose();
        Assert.Equal(0, ranges.HeldCount);
    }

    [Fact]
    public async Task An_already_cancelled_token_fails_at_once_even_on_a_free_range()
    {
        var ranges = new RangeLock();
        var acquisition = ranges.AcquireAsync(0, 1, new CancellationToken(canceled: true));
        Assert.True(acquisition.IsCanceled);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquisition.AsTask());
        Assert.Equal(0, ranges.HeldCount);
        Assert.Equal(0, ranges.WaitingCount);
    }

    [Fact]
    public void Disposing_a_holder_twice_does_not_release_the_next_owner_of_the_entry()
    {
        var ranges = new RangeLock();
        var first = Now(ranges.AcquireAsync(0, 4));
        var copy = first;
        first.Dispose();
        var second = Now(ranges.AcquireAsync(0, 4));     // reuses the pooled entry
        first.Dispose();
        copy.Dispose();
        default(RangeLock.Holder).Dispose();
        Assert.Equal(1, ranges.HeldCount);
        Assert.False(ranges.AcquireAsync(2, 1).IsCompleted);   // still excluded
        second.Dispose();
    }

    [Fact]
    public void Rejects_empty_and_negative_ranges()
    {
        var ranges = new RangeLock();
        Assert.Throws<ArgumentOutOfRangeException>(() => ranges.AcquireAsync(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ranges.AcquireAsync(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ranges.AcquireAsync(long.MaxValue, 2));
    }

    /// <summary>Real threads hammering a small area: a per-block occupancy counter proves no two holders
    /// ever overlap; some acquisitions are cancelled while they wait, racing with their grant.</summary>
    [Fact]
    public async Task Overlapping_holders_exclude_each_other_under_stress()
    {
        const int Tasks = 8, PerTask = 10_000, Blocks = 64;
        var ranges = new RangeLock();
        var occupancy = new int[Blocks];
        int violations = 0, cancelled = 0, acquired = 0;

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            for (int i = 0; i < PerTask; i++)
            {
                int lba = random.Next(Blocks);
                int count = 1 + random.Next(Math.Min(8, Blocks - lba));
                bool cancel = random.Next(50) == 0;
                using var cts = cancel ? new CancellationTokenSource() : null;
                var acquisition = ranges.AcquireAsync(lba, count, cts?.Token ?? default);
                if (cancel && !acquisition.IsCompleted)
                    cts!.Cancel();
                RangeLock.Holder holder;
                try
                {
                    holder = await acquisition;
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                    continue;
                }
                using (holder)
                {
                    Interlocked.Increment(ref acquired);
                    for (int b = lba; b < lba + count; b++)
                    {
                        if (Interlocked.Increment(ref occupancy[b]) != 1)
                            Interlocked.Increment(ref violations);
                    }
                    if (random.Next(8) == 0)
                        await Task.Yield();
                    for (int b = lba; b < lba + count; b++)
                        Interlocked.Decrement(ref occupancy[b]);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(() => Worker(t)))).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(0, violations);
        Assert.Equal(Tasks * PerTask, acquired + cancelled);
        Assert.Equal(0, ranges.HeldCount);
        Assert.Equal(0, ranges.WaitingCount);
        Assert.All(occupancy, o => Assert.Equal(0, o));
    }
}
