using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Ordering;

public sealed class StampMapTests
{
    private static readonly Stamp S1 = new(1, 1);
    private static readonly Stamp S2 = new(2, 1);
    private static readonly Stamp S3 = new(3, 2);
    private static readonly Stamp S4 = new(4, 1);
    private static readonly Stamp S5 = new(5, 3);

    private static (BlockRun, Stamp) E(long lba, long count, Stamp stamp) => (new BlockRun(lba, count), stamp);

    private static BlockRun[] Plan(StampMap map, long lba, long count, Stamp stamp)
    {
        var runs = new List<BlockRun>();
        map.PlanAndRecord(lba, count, stamp, runs);
        return [.. runs];
    }

    [Fact]
    public void Empty_map_plans_the_whole_range_as_one_run_and_records_it()
    {
        var map = new StampMap();
        Assert.Equal([new BlockRun(10, 5)], Plan(map, 10, 5, S1));
        Assert.Equal([E(10, 5, S1)], map.Snapshot());
        Assert.Equal(1, map.Count);
    }

    [Fact]
    public void Record_inside_an_entry_splits_it_at_both_ends()
    {
        var map = new StampMap();
        map.Record(0, 10, S1);
        map.Record(3, 4, S2);
        Assert.Equal([E(0, 3, S1), E(3, 4, S2), E(7, 3, S1)], map.Snapshot());
    }

    [Fact]
    public void Record_over_the_start_or_the_end_of_an_entry_trims_it()
    {
        var map = new StampMap();
        map.Record(10, 10, S1);
        map.Record(5, 10, S2);      // covers the start
        Assert.Equal([E(5, 10, S2), E(15, 5, S1)], map.Snapshot());
        map.Record(18, 10, S3);     // covers the end
        Assert.Equal([E(5, 10, S2), E(15, 3, S1), E(18, 10, S3)], map.Snapshot());
    }

    [Fact]
    public void Adjacent_ranges_do_not_touch_each_other()
    {
        var map = new StampMap();
        map.Record(4, 4, S1);
        map.Record(0, 4, S2);
        map.Record(8, 4, S3);
        Assert.Equal([E(0, 4, S2), E(4, 4, S1), E(8, 4, S3)], map.Snapshot());
        // An older write next to newer entries is applied whole.
        Assert.Equal([new BlockRun(12, 2)], Plan(map, 12, 2, new Stamp(1, 0)));
    }

    [Fact]
    public void Exact_overlap_replaces_the_entry()
    {
        var map = new StampMap();
        map.Record(0, 4, S1);
        map.Record(0, 4, S2);
        Assert.Equal([E(0, 4, S2)], map.Snapshot());
    }

    [Fact]
    public void Record_over_several_entries_and_gaps_merges_them_into_one()
    {
        var map = new StampMap();
        map.Record(0, 2, S1);
        map.Record(3, 2, S2);
        map.Record(6, 2, S3);
        map.Record(1, 6, S4);
        Assert.Equal([E(0, 1, S1), E(1, 6, S4), E(7, 1, S3)], map.Snapshot());
    }

    [Fact]
    public void Plan_skips_newer_entries_and_overwrites_older_ones_in_maximal_runs()
    {
        var map = new StampMap();
        map.Record(2, 2, S5);       // newer
        map.Record(6, 2, S1);       // older
        map.Record(10, 2, S4);      // newer
        Assert.Equal([new BlockRun(0, 2), new BlockRun(4, 6), new BlockRun(12, 2)], Plan(map, 0, 14, S3));
        Assert.Equal([E(0, 2, S3), E(2, 2, S5), E(4, 6, S3), E(10, 2, S4), E(12, 2, S3)], map.Snapshot());
    }

    [Fact]
    public void A_newer_entry_sticking_out_on_either_side_survives_whole()
    {
        var map = new StampMap();
        map.Record(0, 5, S4);
        map.Record(10, 5, S4);
        Assert.Equal([new BlockRun(5, 5)], Plan(map, 3, 9, S2));
        Assert.Equal([E(0, 5, S4), E(5, 5, S2), E(10, 5, S4)], map.Snapshot());
    }

    [Fact]
    public void An_older_entry_around_the_range_is_split_and_the_range_is_one_run()
    {
        var map = new StampMap();
        map.Record(0, 20, S1);
        Assert.Equal([new BlockRun(5, 3)], Plan(map, 5, 3, S2));
        Assert.Equal([E(0, 5, S1), E(5, 3, S2), E(8, 12, S1)], map.Snapshot());
    }

    [Fact]
    public void A_range_covered_by_newer_entries_plans_nothing_and_changes_nothing()
    {
        var map = new StampMap();
        map.Record(0, 4, S4);
        map.Record(4, 4, S5);
        var runs = new List<BlockRun> { new(99, 1) };   // stale content is cleared
        map.PlanAndRecord(1, 6, S2, runs);
        Assert.Empty(runs);
        Assert.Equal([E(0, 4, S4), E(4, 4, S5)], map.Snapshot());
    }

    [Fact]
    public void The_same_stamp_again_is_skipped()
    {
        var map = new StampMap();
        Assert.Single(Plan(map, 0, 4, S3));
        Assert.Empty(Plan(map, 0, 4, S3));
        Assert.Equal([E(0, 4, S3)], map.Snapshot());
    }

    [Fact]
    public void Node_id_breaks_a_Lamport_tie()
    {
        var map = new StampMap();
        map.Record(0, 4, new Stamp(7, 2));
        Assert.Empty(Plan(map, 0, 4, new Stamp(7, 1)));
        Assert.Equal([new BlockRun(0, 4)], Plan(map, 0, 4, new Stamp(7, 3)));
    }

    [Fact]
    public void Forget_drops_entries_up_to_and_including_the_watermark()
    {
        var map = new StampMap();
        map.Record(0, 1, new Stamp(5, 1));
        map.Record(1, 1, new Stamp(6, 2));
        map.Record(2, 1, new Stamp(7, 1));
        map.Forget(4);
        Assert.Equal(3, map.Count);
        map.Forget(5);
        Assert.Equal([E(1, 1, new Stamp(6, 2)), E(2, 1, new Stamp(7, 1))], map.Snapshot());
        map.Forget(6);
        Assert.Equal([E(2, 1, new Stamp(7, 1))], map.Snapshot());
        map.Forget(long.MaxValue);
        Assert.Equal(0, map.Count);
        map.Forget(long.MaxValue);  // empty: fine
        Assert.Equal([new BlockRun(0, 3)], Plan(map, 0, 3, S1));
    }

    [Fact]
    public void Forget_after_overwrites_keeps_the_newer_stamp()
    {
        var map = new StampMap();
        map.Record(0, 4, new Stamp(5, 1));
        map.Record(0, 4, new Stamp(9, 1));
        map.Forget(5);                  // the minimum hint is stale (5): scans, drops nothing
        Assert.Equal([E(0, 4, new Stamp(9, 1))], map.Snapshot());
        map.Forget(8);
        Assert.Equal(1, map.Count);
        map.Forget(9);
        Assert.Equal(0, map.Count);
    }

    [Fact]
    public void Grows_past_its_initial_capacity()
    {
        var map = new StampMap(initialCapacity: 2);
        for (int i = 999; i >= 0; i--)
            map.Record(i * 2, 1, new Stamp(i + 1, 1));
        Assert.Equal(1000, map.Count);
        // One write over all of them, newer than the first half: one run over that half, then one
        // run in each gap between the newer entries of the second half.
        Assert.Equal(501, Plan(map, 0, 2000, new Stamp(500, 2)).Length);
        var snapshot = map.Snapshot();
        Assert.Equal(1001, snapshot.Length);
        Assert.Equal((new BlockRun(0, 1000), new Stamp(500, 2)), snapshot[0]);
        AssertSortedAndDisjoint(snapshot);
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(0, 0)]
    [InlineData(0, -1)]
    [InlineData(long.MaxValue, 1)]
    [InlineData(1, long.MaxValue)]
    public void Rejects_empty_negative_and_wrapping_ranges(long lba, long count)
    {
        var map = new StampMap();
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Record(lba, count, S1));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.PlanAndRecord(lba, count, S1, []));
        Assert.Equal(0, map.Count);
    }

    /// <summary>Random operations against a per-block model: the map must agree block by block, plan
    /// exactly the blocks the model says are older, in maximal ascending runs, and stay well-formed.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Agrees_with_a_per_block_model(int seed)
    {
        const int Blocks = 96;
        var random = new Random(seed);
        var map = new StampMap(initialCapacity: 4);
        var model = new Stamp?[Blocks];
        var runs = new List<BlockRun>();
        long lamport = 0;
        for (int op = 0; op < 5000; op++)
        {
            int lba = random.Next(Blocks);
            int count = 1 + random.Next(Math.Min(16, Blocks - lba));
            int choice = random.Next(10);
            if (choice < 3)
            {
                var stamp = new Stamp(++lamport, 1);
                map.Record(lba, count, stamp);
                for (int b = lba; b < lba + count; b++)
                    model[b] = stamp;
            }
            else if (choice < 9)
            {
                // Old stamps too: remote writes arrive late.
                var stamp = new Stamp(Math.Max(1, lamport - random.Next(20)), 2 + random.Next(3));
                map.PlanAndRecord(lba, count, stamp, runs);
                var expected = new List<BlockRun>();
                for (int b = lba; b < lba + count; b++)
                {
                    if (model[b] is { } recorded && recorded >= stamp)
                        continue;
                    model[b] = stamp;
                    if (expected.Count > 0 && expected[^1].End == b)
                        expected[^1] = expected[^1] with { BlockCount = expected[^1].BlockCount + 1 };
                    else
                        expected.Add(new BlockRun(b, 1));
                }
                Assert.Equal(expected, runs);
            }
            else
            {
                long watermark = lamport - random.Next(10);
                map.Forget(watermark);
                for (int b = 0; b < Blocks; b++)
                {
                    if (model[b] is { } recorded && recorded.Lamport <= watermark)
                        model[b] = null;
                }
            }

            var snapshot = map.Snapshot();
            AssertSortedAndDisjoint(snapshot);
            var actual = new Stamp?[Blocks];
            foreach (var (run, stamp) in snapshot)
            {
                for (long b = run.Lba; b < run.End; b++)
                    actual[b] = stamp;
            }
            Assert.Equal(model, actual);
        }
    }

    private static void AssertSortedAndDisjoint((BlockRun Run, Stamp Stamp)[] entries)
    {
        for (int i = 0; i < entries.Length; i++)
        {
            Assert.True(entries[i].Run.BlockCount > 0, $"empty entry {entries[i]}");
            if (i > 0)
                Assert.True(entries[i - 1].Run.End <= entries[i].Run.Lba, $"entries {entries[i - 1]} and {entries[i]} overlap or are unsorted");
        }
    }
}
