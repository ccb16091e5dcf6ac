using Tandem.Replication.Ordering;
using Tandem.Replication.Replicas;

namespace Tandem.Replication.Tests.Replicas;

/// <summary>The ring of a partner's last writes that survivors compare when it is lost mid-send.</summary>
public sealed class RecentWritesTests
{
    private static Stamp At(long lamport) => new(lamport, 1);

    [Fact]
    public void Writes_after_a_stamp_come_back_sorted_and_merged()
    {
        var recent = new RecentWrites(16);
        recent.Record(At(1), 100, 8);
        recent.Record(At(2), 0, 8);
        recent.Record(At(3), 16, 8);
        recent.Record(At(4), 8, 8);   // joins 0+8 and 16+8 into 0+24
        recent.Record(At(5), 200, 4);
        recent.Record(At(6), 202, 4); // overlaps 200+4
        Assert.Equal(6, recent.NewestLamport);

        var runs = recent.Above(1, out bool complete);
        Assert.True(complete);
        Assert.Equal([new BlockRun(0, 24), new BlockRun(200, 6)], runs);
        Assert.Empty(recent.Above(6, out _));
        Assert.Equal([new BlockRun(0, 24), new BlockRun(100, 8), new BlockRun(200, 6)], recent.Above(0, out _));
    }

    [Fact]
    public void A_ring_that_no_longer_reaches_back_to_the_stamp_says_so()
    {
        var recent = new RecentWrites(4);
        for (int i = 1; i <= 10; i++)
            recent.Record(At(i), i * 100, 1);

        var kept = recent.Above(2, out bool complete);
        Assert.False(complete, "writes 3 to 6 were overwritten: the answer may miss some");
        Assert.Equal(4, kept.Count); // 7 to 10, all it still has

        Assert.Equal(2, recent.Above(8, out complete).Count);
        Assert.True(complete, "the oldest entry kept (7) is at or below 8");
    }

    [Fact]
    public void Nothing_recorded_is_nothing_to_rewrite()
    {
        var recent = new RecentWrites();
        Assert.Equal(0, recent.NewestLamport);
        Assert.Empty(recent.Above(0, out bool complete));
        Assert.True(complete);
    }
}
