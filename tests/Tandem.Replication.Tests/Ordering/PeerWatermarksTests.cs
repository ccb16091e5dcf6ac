using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Ordering;

public sealed class PeerWatermarksTests
{
    [Fact]
    public void Without_peers_everything_may_be_forgotten()
    {
        var marks = new PeerWatermarks();
        Assert.Equal(long.MaxValue, marks.Minimum);
        Assert.Equal(0, marks.Count);
    }

    [Fact]
    public void A_new_peer_holds_everything_back_until_heard_from()
    {
        var marks = new PeerWatermarks();
        marks.Add(2);
        Assert.Equal(0, marks.Minimum);
        Assert.Equal(5, marks.Observe(2, 5));
        Assert.Equal(5, marks.Minimum);
    }

    [Fact]
    public void The_minimum_follows_the_slowest_peer_and_never_goes_back()
    {
        var marks = new PeerWatermarks();
        marks.Add(2);
        marks.Add(3);
        Assert.Equal(0, marks.Observe(2, 10));
        Assert.Equal(7, marks.Observe(3, 7));
        Assert.Equal(7, marks.Observe(3, 6));   // stale clock: ignored
        Assert.True(marks.TryGet(3, out long three));
        Assert.Equal(7, three);
        Assert.Equal(10, marks.Observe(3, 12));
        Assert.Equal(12, marks.Observe(2, 20));
    }

    [Fact]
    public void Removing_the_slowest_peer_raises_the_minimum_and_removing_all_releases_everything()
    {
        var marks = new PeerWatermarks();
        marks.Add(1);
        marks.Add(3);
        marks.Observe(1, 9);
        marks.Observe(3, 4);
        marks.Remove(3);
        Assert.Equal(9, marks.Minimum);
        marks.Remove(3);                // absent: no-op
        Assert.Equal(9, marks.Minimum);
        marks.Remove(1);
        Assert.Equal(long.MaxValue, marks.Minimum);
    }

    [Fact]
    public void Clocks_of_peers_that_are_not_current_are_ignored()
    {
        var marks = new PeerWatermarks();
        Assert.Equal(long.MaxValue, marks.Observe(4, 100));
        marks.Add(2);
        Assert.Equal(0, marks.Observe(4, 100));
        Assert.False(marks.TryGet(4, out _));
    }

    [Fact]
    public void Adding_a_current_peer_again_keeps_its_watermark_and_a_returning_peer_starts_over()
    {
        var marks = new PeerWatermarks();
        marks.Add(2);
        marks.Observe(2, 8);
        marks.Add(2);
        Assert.Equal(8, marks.Minimum);
        Assert.Equal(1, marks.Count);
        marks.Remove(2);
        marks.Add(2);
        Assert.Equal(0, marks.Minimum);
    }

    [Fact]
    public void Many_peers_grow_the_table()
    {
        var marks = new PeerWatermarks();
        for (int peer = 0; peer < 10; peer++)
        {
            marks.Add(peer);
            marks.Observe(peer, 100 - peer);
        }
        Assert.Equal(91, marks.Minimum);
        marks.Remove(9);
        Assert.Equal(92, marks.Minimum);
        Assert.True(marks.TryGet(5, out long five));
        Assert.Equal(95, five);
    }

    [Fact]
    public void Concurrent_observations_end_at_the_minimum_of_the_final_clocks()
    {
        var marks = new PeerWatermarks();
        marks.Add(1);
        marks.Add(2);
        Parallel.For(0, 4, t =>
        {
            int peer = 1 + (t & 1);
            for (long v = 0; v < 50_000; v++)
                marks.Observe(peer, peer == 1 ? v : v * 2);
        });
        Assert.Equal(49_999, marks.Minimum);
    }
}
