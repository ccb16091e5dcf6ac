namespace Tandem.Replication.Ordering;

/// <summary>
/// Write ordering for one replicated device on one node: stamps the writes accepted here, decides
/// which blocks of a peer's write to apply (newest stamp wins per block), and forgets in-flight
/// stamps once every peer's watermark has passed them. See docs/design/replication.md, "Write ordering".
/// An UNMAP is a write of zeros for ordering purposes and goes through the same calls.
/// </summary>
/// <remarks>
/// <para>Callers hold the range's apply lock around <see cref="StampLocalWrite"/> or
/// <see cref="PlanRemoteWrite"/>, the data write and the release, so "stamp or plan, write, record" is
/// atomic per range.</para>
/// <para>The clock carried on a message must stay below the Lamport value of every write the node
/// has stamped but not yet queued on that link, or the peer may forget an entry that such a write
/// then wrongly overtakes. Stamp and queue to every link in one step under one lock (so frames leave
/// in stamp order), or carry min(<see cref="Clock"/>, oldest unsent - 1).</para>
/// <para>A peer's clock is observed only after that message and every earlier one from the peer has
/// been planned and recorded; the peers are exactly the nodes whose writes this node applies.</para>
/// </remarks>
public sealed class WriteOrdering
{
    private readonly LamportClock _clock = new();
    private readonly StampMap _inFlight = new();
    private readonly PeerWatermarks _watermarks = new();

    public WriteOrdering(int localNodeId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localNodeId);
        LocalNodeId = localNodeId;
    }

    public int LocalNodeId { get; }

    /// <summary>The node's Lamport clock for this device (carried on every message it sends).</summary>
    public long Clock => _clock.Current;

    /// <summary>Number of in-flight stamp map entries (diagnostics; 0 when idle and heard from every peer).</summary>
    public int InFlightEntries => _inFlight.Count;

    internal StampMap InFlight => _inFlight;

    internal PeerWatermarks Watermarks => _watermarks;

    /// <summary>
    /// Stamps a write accepted from an initiator here and records it: its stamp is newer than every
    /// stamp the node has seen, so it owns the whole range. Call under the range's apply lock, then
    /// write the data.
    /// </summary>
    public Stamp StampLocalWrite(long lba, long blockCount)
    {
        BlockRanges.Validate(lba, blockCount);
        Stamp stamp = _clock.Tick(LocalNodeId);
        // Every watermark was observed into the clock first, so with peers the stamp is above the
        // minimum and recorded. Without peers (minimum = MaxValue) nobody can overtake it: recording
        // it would only leak an entry that no peer message will ever trigger forgetting.
        if (stamp.Lamport > _watermarks.Minimum)
            _inFlight.Record(lba, blockCount, stamp);
        return stamp;
    }

    /// <summary>
    /// Plans a peer's write stamped <paramref name="stamp"/>: advances the clock past it, fills
    /// <paramref name="toApply"/> with the runs to write (ascending; blocks holding a newer write are
    /// left out) and records the stamp on them. Call under the range's apply lock, then write the runs.
    /// </summary>
    public void PlanRemoteWrite(long lba, long blockCount, Stamp stamp, List<BlockRun> toApply)
    {
        if (stamp.NodeId == LocalNodeId)
            throw new ArgumentException($"Stamp {stamp} is this node's own: a peer's write carries the stamp of the node that accepted it.", nameof(stamp));
        _clock.Observe(stamp.Lamport);
        _inFlight.PlanAndRecord(lba, blockCount, stamp, toApply);
    }

    /// <summary>
    /// Takes in the clock carried by a message from <paramref name="peerId"/>. Call only after that
    /// message and every earlier one from the peer have been applied (a WRITE: its data written and
    /// recorded); the watermark then rises and in-flight entries it passed are forgotten.
    /// </summary>
    public void ObservePeerClock(int peerId, long clock)
    {
        _clock.Observe(clock);
        long before = _watermarks.Minimum;
        long after = _watermarks.Observe(peerId, clock);
        if (after > before)
            _inFlight.Forget(after);
    }

    /// <summary>
    /// Adds a peer whose writes this node may apply: the watermarks that decide forgetting are those of
    /// the nodes that can send writes here, so add it before applying anything from it (a writer
    /// missing from the set could overtake entries forgotten without waiting for it). Its watermark
    /// starts at 0, so nothing is forgotten until it is heard from. It must not originate writes before
    /// its clock has caught up with the replica set's: entries other nodes already forgot would
    /// otherwise be overtaken by its older stamps.
    /// </summary>
    public void AddPeer(int peerId)
    {
        if (peerId == LocalNodeId)
            throw new ArgumentException("A node is not its own peer.", nameof(peerId));
        _watermarks.Add(peerId);
    }

    /// <summary>Removes a peer whose writes this node no longer applies (its messages must be discarded
    /// from now on, and its unsent writes never resent); entries only it held back are forgotten.</summary>
    public void RemovePeer(int peerId)
    {
        long before = _watermarks.Minimum;
        _watermarks.Remove(peerId);
        long after = _watermarks.Minimum;
        if (after > before)
            _inFlight.Forget(after);
    }
}
