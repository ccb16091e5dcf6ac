using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Replication.Ordering;
using Tandem.Replication.Sync;
using Tandem.Replication.Wire;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>
/// An HA device: a local copy kept identical, synchronously, with the copies on one or two partner
/// nodes (docs/design/replication.md). Reads are served locally; a write is applied locally and on
/// every partner that receives writes, and completes when all have it. Overlapping writes through
/// different nodes are ordered by stamps (newest wins per block), so every copy ends identical.
/// </summary>
/// <remarks>
/// Two range locks: the <em>origin</em> lock is held by a write accepted here for its whole round
/// trip (so a fence or a resync of a range waits until no write to it is in flight), the
/// <em>apply</em> lock only around "stamp or check, then write locally" (so a local and a remote
/// write to the same blocks cannot interleave between the stamp check and the pwrite).
/// </remarks>
public sealed partial class ReplicatedDevice : IRangeLockingDevice, ILinkHandler
{
    /// <summary>Writes larger than this travel as several stamped frames (implementation limit).</summary>
    private const int MaxWriteChunk = 4 << 20;

    private readonly IBlockDevice _local;
    private readonly ReplicaSetOptions _options;
    private readonly ILogger _log;
    private readonly WriteOrdering _ordering;
    private readonly RangeLock _originLock = new();
    private readonly RangeLock _applyLock = new();
    private readonly object _sendLock = new();
    private readonly object _stateLock = new();
    private readonly ReplicaPeer[] _peers;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _background = [];

    /// <summary>Keeps a background task (dial loop, resync) to wait for at dispose; thread-safe, drops finished ones.</summary>
    private void Track(Task task)
    {
        lock (_background)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }
    private ReplicationHeader _header;
    private volatile bool _serving;
    /// <summary>The partner synchronizing this node while <see cref="LocalState"/> is Synchronizing (under _stateLock).</summary>
    private ReplicaPeer? _syncSource;

    /// <summary>Background flushing of the resync in progress into this node; null when none is.</summary>
    private volatile FlushBehind? _syncFlush;
    private readonly InFlightJournal? _journal;

    /// <summary>What a crash of this node left unaccounted for, until a sync with a partner settles it; null after a clean stop.</summary>
    private JournalFindings? _suspects;
    private volatile bool _disposed;
    private long _clientIo;

    public ReplicatedDevice(IBlockDevice local, ReplicaSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(local);
        string? problem = options.Header.FindProblem();
        if (problem is not null)
            throw new ArgumentException(problem, nameof(options));
        _local = local;
        _options = options;
        _log = options.Logger;
        _header = options.Header;
        LocalId = _header.LocalNodeId;
        _ordering = new WriteOrdering(LocalId);
        long bytes = local.BlockCount * local.BlockSize;
        _peers = _header.Nodes.Where(n => n.NodeId != LocalId)
            .Select(n => new ReplicaPeer(n, new DirtyBitmap(bytes, local.BlockSize)))
            .ToArray();
        LocalState = ReplicaStateText.Parse(_header.State);
        if (options.JournalPath is { } journalPath)
            _journal = InFlightJournal.Open(journalPath, local.BlockSize, local.BlockCount);
        if (_header.Running)
        {
            // The previous run did not stop cleanly: the journal says where this copy may differ.
            _suspects = _journal?.Findings ?? JournalFindings.Unknown("this node has no in-flight journal");
            _log.LogWarning("{Device}: the node stopped without a clean shutdown; {What}", options.DeviceName,
                _suspects.IsUnknown ? $"its copy will be fully resynchronized ({_suspects.Reason})" : $"{_suspects.Extents.Count} extents had writes in flight and will be resynchronized");
        }

        // A copy that was synchronized when this node stopped may serve at once only if it had
        // already left every partner behind (it was the survivor). Otherwise a partner may have
        // gone on without it: wait to compare generations. Under node majority even a survivor
        // waits for a majority (the witness's vote) first.
        _strategy = FailoverStrategyText.Of(_header);
        if (_header.Witness is { } witness)
            _witness = OpenWitness(witness);
        _serving = LocalState == ReplicaState.Synchronized && _peers.All(p => p.RecordedState != ReplicaState.Synchronized)
            && _strategy == FailoverStrategy.Heartbeat;
        if (LocalState == ReplicaState.Synchronized && !_serving && _strategy == FailoverStrategy.NodeMajority)
            _suspendedBecause = "waiting for a majority of votes after start-up";
        foreach (var peer in _peers)
        {
            // The RAM journal does not survive a restart: a partner left behind needs a full sync.
            if (peer.RecordedState != ReplicaState.Synchronized)
                peer.Bitmap.MarkAll();
        }
    }

    public int LocalId { get; }
    public ReplicaState LocalState { get; private set; }

    /// <summary>True when this node serves I/O for the device (synchronized and confirmed, and no failover decision pending).</summary>
    public bool IsServing => _serving && Volatile.Read(ref _deciding) == 0;

    public IReadOnlyList<ReplicaPeer> Peers => _peers;
    public ReplicationHeader Header => Volatile.Read(ref _header);
    public IBlockDevice Local => _local;

    /// <summary>Raised (on any thread) when this node's or a partner's state changes: ALUA follows it.</summary>
    public event Action? StateChanged;

    public int BlockSize => _local.BlockSize;
    public long BlockCount => _local.BlockCount;
    public bool IsThinProvisioned => _local.IsThinProvisioned;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        Interlocked.Increment(ref _clientIo);
        try
        {
            await _local.ReadAsync(lba, buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _clientIo);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags = WriteFlags.None, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        CheckRange(lba, data.Length / BlockSize);
        Interlocked.Increment(ref _clientIo);
        try
        {
            while (data.Length > 0)
            {
                int chunk = Math.Min(data.Length, MaxWriteChunk);
                await ReplicateAsync(new Mutation(lba, chunk / BlockSize, data[..chunk], flags, Unmap: false), originHeld: false, cancellationToken).ConfigureAwait(false);
                lba += chunk / BlockSize;
                data = data[chunk..];
            }
        }
        finally
        {
            Interlocked.Decrement(ref _clientIo);
        }
    }

    public async ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        CheckRange(lba, blockCount);
        if (blockCount == 0)
            return; // a zero-length UNMAP descriptor is legal and changes nothing
        Interlocked.Increment(ref _clientIo);
        try
        {
            await ReplicateAsync(new Mutation(lba, blockCount, default, WriteFlags.None, Unmap: true), originHeld: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _clientIo);
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        EnsureServing();
        PeerRequests requests = default;
        lock (_sendLock)
        {
            foreach (var peer in _peers)
            {
                if (peer.ReceivesWrites && peer.Link is { } link)
                    requests.Add(peer, link, link.AppendRequestLocked(FrameType.Flush, new EmptyPayload()));
            }
        }
        requests.FlushLinks();
        await _local.FlushAsync(cancellationToken).ConfigureAwait(false);
        await CompleteAsync(requests, 0, 0).ConfigureAwait(false);
    }

    public ValueTask<LbaExtent> GetLbaStatusAsync(long lba, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        return _local.GetLbaStatusAsync(lba, cancellationToken);
    }

    /// <summary>
    /// HA extend: every partner grows first (all must be connected and synchronized, so that no copy
    /// is left smaller), then this node.
    /// </summary>
    public async ValueTask ResizeAsync(long newBlockCount, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        if (newBlockCount < BlockCount)
            throw new ArgumentOutOfRangeException(nameof(newBlockCount), "An HA device cannot shrink.");
        foreach (var peer in _peers)
        {
            if (peer.Link is not { IsUp: true } || !peer.ReceivesWrites || peer.RecordedState != ReplicaState.Synchronized)
                throw new InvalidOperationException(
                    $"Replica {peer.Id} ({peer.Member.Api}) is not connected and synchronized; an HA device is extended on every node at once.");
        }
        byte[] body = new ResizeMessage(newBlockCount).ToBytes();
        var replies = await Task.WhenAll(_peers.Select(p => p.Link!.RequestAsync(FrameType.Control, new BytesPayload(body)).AsTask())).ConfigureAwait(false);
        for (int i = 0; i < replies.Length; i++)
        {
            if (!replies[i].IsOk)
                throw new IOException($"Replica {_peers[i].Id} could not grow the device ({replies[i].Status}); the device keeps its size on this node.");
        }
        await _local.ResizeAsync(newBlockCount, cancellationToken).ConfigureAwait(false);
        foreach (var peer in _peers)
            peer.Bitmap.Resize(newBlockCount * BlockSize);
    }

    /// <summary>A write or unmap accepted from an initiator on this node.</summary>
    private readonly record struct Mutation(long Lba, long BlockCount, ReadOnlyMemory<byte> Data, WriteFlags Flags, bool Unmap);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReplicateAsync(Mutation m, bool originHeld, CancellationToken ct)
    {
        // A write inside LockRangeAsync already holds the range's origin lock on every node.
        using var origin = originHeld ? default : await _originLock.AcquireAsync(m.Lba, m.BlockCount, ct).ConfigureAwait(false);
        _journal?.Begin(m.Lba, m.BlockCount);
        bool delivered = false;
        try
        {
            delivered = await ReplicateJournaledAsync(m, ct).ConfigureAwait(false);
        }
        finally
        {
            // A write a partner did not take stays in the journal: this copy may hold it alone.
            if (delivered)
                _journal?.End(m.Lba, m.BlockCount);
        }
    }

    /// <returns>Whether every partner it was sent to took it.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReplicateJournaledAsync(Mutation m, CancellationToken ct)
    {
        PeerRequests requests = default;
        using (await _applyLock.AcquireAsync(m.Lba, m.BlockCount, ct).ConfigureAwait(false))
        {
            lock (_sendLock)
            {
                // One step under the send lock: the stamp, and the frames to every partner, so that
                // frames leave in stamp order and every header's clock covers what was queued before.
                Stamp stamp = _ordering.StampLocalWrite(m.Lba, m.BlockCount);
                foreach (var peer in _peers)
                {
                    if (peer.ReceivesWrites && peer.Link is { } link)
                    {
                        var reply = m.Unmap
                            ? link.AppendRequestLocked(FrameType.Unmap, new UnmapMessage(stamp, m.Lba, m.BlockCount))
                            : link.AppendRequestLocked(FrameType.Write, new WriteMessage(stamp, (m.Flags & WriteFlags.ForceUnitAccess) != 0, m.Lba, m.Data));
                        requests.Add(peer, link, reply);
                    }
                    else
                    {
                        peer.Bitmap.MarkBlocks(m.Lba, m.BlockCount);
                        // The strategy is still deciding about this partner: this write must not
                        // complete without it before we know we go on (docs/design/failover.md).
                        if (peer.LossRecorded is { IsCompleted: false } gate)
                            requests.AddGate(gate);
                    }
                }
            }
            requests.FlushLinks();
            // The local write runs while the frames are on the wire. This write waits for its
            // partners anyway, so its local copy may wait for the end of the receive loop's batch
            // and go to the image with its neighbours in one system call.
            if (m.Unmap)
                await _local.UnmapAsync(m.Lba, m.BlockCount, ct).ConfigureAwait(false);
            else
                await _local.WriteAsync(m.Lba, m.Data, m.Flags | WriteFlags.MayDefer, ct).ConfigureAwait(false);
        }
        return await CompleteAsync(requests, m.Lba, m.BlockCount).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for every partner's answer. A partner that failed is marked dirty for the range and
    /// recorded as lost (durably) before the command completes: the initiator then knows its
    /// write is on every copy that still counts.
    /// </summary>
    /// <returns>Whether every partner answered OK.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> CompleteAsync(PeerRequests requests, long lba, long blockCount)
    {
        bool delivered = true;
        for (int i = 0; i < requests.Gates; i++)
            await requests.Gate(i).ConfigureAwait(false);
        for (int i = 0; i < requests.Count; i++)
        {
            var (peer, link, pending) = requests[i];
            LinkReply reply = await pending.Task.ConfigureAwait(false);
            if (reply.IsOk)
                continue;
            delivered = false;
            if (blockCount > 0)
                peer.Bitmap.MarkBlocks(lba, blockCount);
            if (reply.Status != ReplyStatus.LinkDown)
            {
                _log.LogError("Replica {Peer} of {Device} failed a request ({Status}); dropping the link", peer.Id, _options.DeviceName, reply.Status);
                link.Fail(new IOException($"Replica {peer.Id} answered {reply.Status}."));
            }
            await RecordLossAsync(peer, link).ConfigureAwait(false);
        }
        // The failover strategy stopped this node while the write was out (it lost a partner, or
        // a partner that outranks it fenced it): it is not acknowledged, since the node that goes
        // on may not have it (the initiator retries it through a node that serves).
        if (!_serving)
            throw Unavailable();
        return delivered;
    }

    private void EnsureServing()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_serving || Volatile.Read(ref _deciding) != 0)
            throw Unavailable();
    }

    private DeviceUnavailableException Unavailable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_serving)
            return new DeviceUnavailableException($"HA device {_options.DeviceName} lost a partner; the failover strategy is deciding whether this node goes on.", transitioning: true);
        string why = _suspendedBecause is { } reason ? $" ({reason})" : "";
        return new DeviceUnavailableException(
            $"HA device {_options.DeviceName} is {LocalState.ToText()} on this node and does not serve I/O{why}.",
            transitioning: LocalState == ReplicaState.Synchronizing);
    }

    private void CheckRange(long lba, long blockCount)
    {
        if (lba < 0 || blockCount < 0 || lba + blockCount > BlockCount)
            throw new ArgumentOutOfRangeException(nameof(lba), $"Blocks {lba}+{blockCount} are outside the device ({BlockCount} blocks).");
    }

    /// <summary>
    /// The pending requests of one write (one per partner that receives it) and the loss gates of
    /// the partners it skipped while the strategy decides about them, without allocating.
    /// </summary>
    private struct PeerRequests
    {
        private (ReplicaPeer, ReplicationLink, PendingReply) _a, _b;
        private Task? _gateA, _gateB;
        public int Count { get; private set; }
        public int Gates { get; private set; }

        public void AddGate(Task gate)
        {
            if (Gates == 0) _gateA = gate;
            else _gateB = gate;
            Gates++;
        }

        public readonly Task Gate(int i) => i == 0 ? _gateA! : _gateB!;

        public void Add(ReplicaPeer peer, ReplicationLink link, PendingReply reply)
        {
            if (Count == 0) _a = (peer, link, reply);
            else _b = (peer, link, reply);
            Count++;
        }

        public readonly (ReplicaPeer Peer, ReplicationLink Link, PendingReply Reply) this[int i] => i == 0 ? _a : _b;

        public readonly void FlushLinks()
        {
            if (Count > 0) _a.Item2.FlushSoon();
            if (Count > 1) _b.Item2.FlushSoon();
        }
    }
}
