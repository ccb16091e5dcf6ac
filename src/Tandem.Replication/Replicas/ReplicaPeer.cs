using Tandem.Replication.Links;
using Tandem.Replication.Ordering;
using Tandem.Replication.Sync;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>What one replica knows about one partner: its link, its copy's state, what it missed.</summary>
public sealed class ReplicaPeer
{
    internal ReplicaPeer(ReplicaNodeHeader member, DirtyBitmap bitmap)
    {
        Member = member;
        Bitmap = bitmap;
        RecordedState = ReplicaStateText.Parse(member.State);
    }

    public int Id => Member.NodeId;
    public ReplicaNodeHeader Member { get; internal set; }

    /// <summary>The current link, or null while it is down.</summary>
    public ReplicationLink? Link { get; internal set; }

    /// <summary>Heartbeat links that are up (under the device's state lock; read a copy).</summary>
    internal List<ReplicationLink> HeartbeatLinks { get; } = new(2);

    /// <summary>How many heartbeat channels to this partner are up now.</summary>
    public int HeartbeatsUp
    {
        get
        {
            lock (HeartbeatLinks)
                return HeartbeatLinks.Count(l => l.IsUp);
        }
    }

    /// <summary>A heartbeat channel to this partner is up (a probe says whether it answers now).</summary>
    internal bool HeartbeatAnswering => HeartbeatsUp > 0;

    /// <summary>A copy of the heartbeat links, to use outside their lock.</summary>
    internal ReplicationLink[] HeartbeatLinksNow()
    {
        lock (HeartbeatLinks)
            return [.. HeartbeatLinks];
    }

    /// <summary>
    /// By replica id: this partner told us its writes do not reach that node (three-way,
    /// <see cref="WritesToMessage"/>). Touched only on this partner's receive loop.
    /// </summary>
    internal bool[] SkipsNode { get; } = new bool[ReplicaLimits.MaxNodeId + 1];

    /// <summary>When the sync link last went down (<see cref="System.Diagnostics.Stopwatch"/> ticks; 0: never).</summary>
    internal long LinkDownTicks { get; set; }

    /// <summary>
    /// Whether client writes are sent to this partner (synchronized with us, or the target of our
    /// sync). Otherwise they are marked in <see cref="Bitmap"/>. Changed only under the send lock,
    /// so a write either is sent or is marked, never neither.
    /// </summary>
    public bool ReceivesWrites { get; internal set; }

    /// <summary>What we recorded (and persisted) about its copy.</summary>
    public ReplicaState RecordedState { get; internal set; }

    /// <summary>Its last announced status, or null before its link first came up.</summary>
    public StatusMessage? Announced { get; internal set; }

    /// <summary>Both copies were changed independently; nothing is synchronized until the administrator decides.</summary>
    public bool SplitBrain { get; internal set; }

    /// <summary>The generation of this partner for which a partial partition was reported (reported once).</summary>
    internal string? PartitionReported { get; set; }

    /// <summary>Extents it is missing, relative to <see cref="BitmapGeneration"/>.</summary>
    public DirtyBitmap Bitmap { get; }

    /// <summary>The generation its copy had when we started marking (null: the bitmap proves nothing, a sync must be full).</summary>
    public string? BitmapGeneration { get; internal set; }

    /// <summary>How many times its link went down while the device was running (diagnostics).</summary>
    public int LinkLosses => _linkLosses;

    private int _linkLosses;

    internal void CountLinkLoss() => Interlocked.Increment(ref _linkLosses);

    public SyncProgress? Sync { get; internal set; }
    public SyncProgress? LastSync { get; internal set; }

    /// <summary>The last writes applied from this partner: what to compare if it dies mid-send.</summary>
    internal RecentWrites RecentWrites { get; } = new();

    /// <summary>Runs of a remote write to apply; used only by this peer's receive loop.</summary>
    internal List<BlockRun> ApplyRuns { get; } = new(4);

    /// <summary>Set when a loss of this partner is being recorded; writes wait for it before completing.</summary>
    internal Task? LossRecorded { get; set; }

    internal CancellationTokenSource? SyncCancellation { get; set; }
}
