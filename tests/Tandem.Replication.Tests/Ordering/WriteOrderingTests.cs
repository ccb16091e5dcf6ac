using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Ordering;

public sealed class WriteOrderingTests
{
    private static WriteOrdering NodeWithPeers(int id, params int[] peers)
    {
        var ordering = new WriteOrdering(id);
        foreach (int peer in peers)
            ordering.AddPeer(peer);
        return ordering;
    }

    [Fact]
    public void Local_writes_tick_the_clock_and_are_recorded_while_peers_may_overtake_them()
    {
        var ordering = NodeWithPeers(1, 2);
        Assert.Equal(1, ordering.LocalNodeId);
        Assert.Equal(new Stamp(1, 1), ordering.StampLocalWrite(0, 8));
        Assert.Equal(new Stamp(2, 1), ordering.StampLocalWrite(4, 8));
        Assert.Equal(2, ordering.Clock);
        Assert.Equal([(new BlockRun(0, 4), new Stamp(1, 1)), (new BlockRun(4, 8), new Stamp(2, 1))], ordering.InFlight.Snapshot());
    }

    [Fact]
    public void Without_peers_local_writes_leave_nothing_in_flight()
    {
        var ordering = new WriteOrdering(1);
        ordering.StampLocalWrite(0, 8);
        Assert.Equal(0, ordering.InFlightEntries);
        Assert.Equal(1, ordering.Clock);
    }

    [Fact]
    public void A_remote_write_advances_the_clock_so_the_next_local_write_is_newer()
    {
        var ordering = NodeWithPeers(1, 2);
        var runs = new List<BlockRun>();
        ordering.PlanRemoteWrite(0, 4, new Stamp(10, 2), runs);
        Assert.Equal([new BlockRun(0, 4)], runs);
        Assert.Equal(10, ordering.Clock);
        Stamp local = ordering.StampLocalWrite(0, 4);
        Assert.Equal(new Stamp(11, 1), local);
        Assert.True(local > new Stamp(10, 2));
    }

    [Fact]
    public void A_late_older_remote_write_skips_the_blocks_of_a_newer_local_write()
    {
        var ordering = NodeWithPeers(2, 1);
        ordering.PlanRemoteWrite(100, 1, new Stamp(4, 1), []);     // clock 4
        ordering.StampLocalWrite(2, 2);                             // (5, 2)
        var runs = new List<BlockRun>();
        ordering.PlanRemoteWrite(0, 8, new Stamp(3, 1), runs);
        Assert.Equal([new BlockRun(0, 2), new BlockRun(4, 4)], runs);
    }

    [Fact]
    public void Entries_are_forgotten_once_every_peer_is_past_them()
    {
        var ordering = NodeWithPeers(1, 2, 3);
        ordering.StampLocalWrite(0, 1);     // (1, 1)
        ordering.StampLocalWrite(1, 1);     // (2, 1)
        ordering.PlanRemoteWrite(2, 1, new Stamp(3, 2), []);
        Assert.Equal(3, ordering.InFlightEntries);

        ordering.ObservePeerClock(2, 3);
        Assert.Equal(3, ordering.InFlightEntries);  // peer 3 not heard from: it may still send (1, 3)
        ordering.ObservePeerClock(3, 1);
        Assert.Equal(2, ordering.InFlightEntries);
        ordering.ObservePeerClock(3, 2);
        Assert.Equal(1, ordering.InFlightEntries);
        ordering.ObservePeerClock(3, 3);
        Assert.Equal(0, ordering.InFlightEntries);
    }

    [Fact]
    public void Peer_clocks_advance_the_local_clock()
    {
        var ordering = NodeWithPeers(1, 2);
        ordering.ObservePeerClock(2, 42);
        Assert.Equal(42, ordering.Clock);
        Assert.Equal(new Stamp(43, 1), ordering.StampLocalWrite(0, 1));
        Assert.Equal(1, ordering.InFlightEntries);   // above the watermark: kept
    }

    [Fact]
    public void Removing_the_slowest_peer_lets_entries_go_and_removing_the_last_clears_the_map()
    {
        var ordering = NodeWithPeers(1, 2, 3);
        ordering.StampLocalWrite(0, 1);
        ordering.StampLocalWrite(1, 1);
        ordering.ObservePeerClock(2, 1);
        Assert.Equal(2, ordering.InFlightEntries);
        ordering.RemovePeer(3);
        Assert.Equal(1, ordering.InFlightEntries);
        ordering.RemovePeer(2);
        Assert.Equal(0, ordering.InFlightEntries);
    }

    [Fact]
    public void Clocks_from_a_removed_peer_do_not_release_entries()
    {
        var ordering = NodeWithPeers(1, 2, 3);
        ordering.StampLocalWrite(0, 1);
        ordering.RemovePeer(3);
        ordering.AddPeer(3);                 // back (after a resync): starts at watermark 0
        ordering.ObservePeerClock(2, 5);
        Assert.Equal(1, ordering.InFlightEntries);
        ordering.ObservePeerClock(4, 5);    // never a peer
        Assert.Equal(1, ordering.InFlightEntries);
        ordering.ObservePeerClock(3, 5);
        Assert.Equal(0, ordering.InFlightEntries);
    }

    [Fact]
    public void Rejects_its_own_stamp_from_a_peer_and_itself_as_a_peer()
    {
        var ordering = NodeWithPeers(1, 2);
        Assert.Throws<ArgumentException>(() => ordering.PlanRemoteWrite(0, 1, new Stamp(1, 1), []));
        Assert.Throws<ArgumentException>(() => ordering.AddPeer(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ordering.StampLocalWrite(0, 0));
        Assert.Equal(0, ordering.Clock);     // a rejected write does not consume a clock value
    }
}
