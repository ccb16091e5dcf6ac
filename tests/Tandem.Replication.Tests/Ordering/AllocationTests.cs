using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Ordering;

/// <summary>
/// The write path (apply lock, stamp, record, a peer's write planned, acknowledgements forgetting
/// entries) must not allocate once warm. Allocation counts do not depend on the build configuration
/// (the JIT does not allocate managed memory for us), so this runs in Debug too.
/// </summary>
public sealed class AllocationTests
{
    [Fact]
    public void The_uncontended_write_path_allocates_nothing()
    {
        var ranges = new RangeLock();
        var ordering = new WriteOrdering(1);
        ordering.AddPeer(2);
        var runs = new List<BlockRun>(16);

        int failures = RunCycles(ranges, ordering, runs, 10_000);   // warm-up: tiering, pools, array growth
        long before = GC.GetAllocatedBytesForCurrentThread();
        failures += RunCycles(ranges, ordering, runs, 10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, failures);
        Assert.Equal(0L, allocated);
        Assert.Equal(0, ranges.HeldCount);
    }

    private static int RunCycles(RangeLock ranges, WriteOrdering ordering, List<BlockRun> runs, int cycles)
    {
        int failures = 0;
        long peerClock = ordering.Clock;
        for (int i = 0; i < cycles; i++)
        {
            // A few dozen writes in flight at different places, as with a queue depth of 32.
            long lba = (i % 32) * 64;
            var acquisition = ranges.AcquireAsync(lba, 8);
            if (!acquisition.IsCompletedSuccessfully)
            {
                failures++;
                continue;
            }
            using (acquisition.Result)
                ordering.StampLocalWrite(lba, 8);

            // A peer's write elsewhere, planned under its own range lock.
            long remoteLba = 4096 + (i % 32) * 64;
            var remote = ranges.AcquireAsync(remoteLba, 8);
            if (!remote.IsCompletedSuccessfully)
            {
                failures++;
                continue;
            }
            using (remote.Result)
            {
                ordering.PlanRemoteWrite(remoteLba, 8, new Stamp(++peerClock, 2), runs);
                if (runs.Count != 1)
                    failures++;
            }

            // The peer's acknowledgements trail by a few writes: entries come and go.
            if (i % 4 == 3)
                ordering.ObservePeerClock(2, peerClock = Math.Max(peerClock, ordering.Clock - 8));
        }
        return failures;
    }
}
