using Microsoft.Extensions.Logging;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Replication.Sync;
using Tandem.Replication.Wire;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>States, generations and what happens when partners come and go.</summary>
public sealed partial class ReplicatedDevice
{
    private readonly SemaphoreSlim _persistGate = new(1, 1);

    private StatusMessage OwnStatus()
    {
        var header = Header;
        var suspects = _suspects;
        return new StatusMessage(LocalState.ToText(), header.Generation, header.History, _serving,
            suspects is { IsUnknown: false, Extents.Count: > 0 } ? suspects.Extents : null, suspects?.IsUnknown == true,
            _peers.Length > 1 ? Reached() : null);
    }

    private void SendStatus(ReplicationLink link)
    {
        byte[] body = OwnStatus().ToBytes();
        _ = SendControlAsync(link, body);
    }

    private void BroadcastStatus()
    {
        foreach (var peer in _peers)
        {
            if (peer.Link is { IsUp: true } link)
                SendStatus(link);
        }
    }

    private static async Task SendControlAsync(ReplicationLink link, byte[] body)
    {
        await link.RequestAsync(FrameType.Control, new BytesPayload(body)).ConfigureAwait(false);
    }

    private async ValueTask HandleControlAsync(ReplicaPeer peer, ReplicationLink link, ulong requestId, ControlMessage message)
    {
        switch (message)
        {
            case StatusMessage status:
                link.Reply(requestId, ReplyStatus.Ok);
                OnPeerStatus(peer, status);
                return;
            case SyncBeginMessage begin:
                lock (_stateLock)
                {
                    if (LocalState == ReplicaState.Synchronizing && _syncSource is { } source && source != peer && source.Link is { IsUp: true })
                    {
                        link.Reply(requestId, ReplyStatus.NotReady); // one source at a time
                        return;
                    }
                    if (_yieldedTo is { } winner && winner != peer && winner.Link is not { IsUp: true })
                    {
                        // We stopped for that node, which goes on without us: a copy from anyone
                        // else would miss its writes and let us serve beside it, out of its reach.
                        link.Reply(requestId, ReplyStatus.NotReady);
                        return;
                    }
                    if (LocalState == ReplicaState.Synchronized && _serving)
                    {
                        if (!begin.Force)
                        {
                            link.Reply(requestId, ReplyStatus.NotReady);
                            return;
                        }
                        BecomeStale($"replica {peer.Id} was asked for a full resynchronization of this node");
                    }
                    LocalState = ReplicaState.Synchronizing;
                    _syncSource = peer;
                    _syncFlush = new FlushBehind(() => _local.FlushAsync(), Track);
                }
                _log.LogInformation("{Device}: replica {Peer} starts a {Kind} synchronization of this node", _options.DeviceName, peer.Id, begin.SyncKind);
                link.Reply(requestId, ReplyStatus.Ok);
                RaiseStateChanged();
                return;
            case SyncEndMessage end:
                RunAndReply(link, requestId, async () =>
                {
                    if (_syncFlush is { } flushing)
                        await flushing.DrainAsync().ConfigureAwait(false);
                    await _local.FlushAsync().ConfigureAwait(false);
                    await CompleteAsSyncTargetAsync(peer, end).ConfigureAwait(false);
                    return null;
                });
                return;
            case ReservationLockMessage { Acquire: true }:
                RunAndReply(link, requestId, async () =>
                {
                    await _reservationGate.WaitAsync(_stopping.Token).ConfigureAwait(false);
                    Volatile.Write(ref _reservationGateHolder, peer.Id);
                    return null;
                });
                return;
            case ReservationLockMessage { Acquire: false }:
                ReleaseReservationGate(peer.Id);
                link.Reply(requestId, ReplyStatus.Ok);
                return;
            case ReservationStateMessage state:
                try
                {
                    ReservationStateReceived?.Invoke(state.State);
                    link.Reply(requestId, ReplyStatus.Ok);
                }
                catch (InvalidDataException e)
                {
                    _log.LogError("{Device}: replica {Peer} sent reservation state that cannot be applied: {Error}", _options.DeviceName, peer.Id, e.Message);
                    link.Reply(requestId, ReplyStatus.BadRequest);
                }
                return;
            case LastWritesMessage last:
                link.Reply(requestId, ReplyStatus.Ok);
                if (_peers.FirstOrDefault(p => p.Id == last.LostNodeId && p != peer) is { } lost)
                    Track(Task.Run(() => RewriteLastWritesAsync(lost, last.NewestApplied, peer.Id)));
                return;
            case WritesToMessage writesTo:
                OnWritesTo(peer, writesTo.NodeId, writesTo.Sending);
                link.Reply(requestId, ReplyStatus.Ok);
                return;
            case ReachQueryMessage query:
                link.Reply(requestId, ReplyStatus.Ok, new[] { ReachBits(query.NodeId) });
                return;
            case LunResetMessage:
                LunResetReceived?.Invoke();
                link.Reply(requestId, ReplyStatus.Ok);
                return;
            case ResizeMessage resize:
                RunAndReply(link, requestId, async () =>
                {
                    if (resize.BlockCount < BlockCount)
                        throw new IOException("Refusing to shrink an HA device.");
                    await _local.ResizeAsync(resize.BlockCount).ConfigureAwait(false);
                    foreach (var p in _peers)
                        p.Bitmap.Resize(resize.BlockCount * BlockSize);
                    Resized?.Invoke();
                    return null;
                });
                return;
        }
    }

    /// <summary>Raised after a partner grew the device (HA extend): the SCSI layer reports the new capacity.</summary>
    public event Action? Resized;

    /// <summary>
    /// Compares our state and generation with a partner's and decides who copies to whom
    /// (docs/design/replication.md, "Generation identifiers"). Both sides run the same rules on
    /// the same facts, so they agree without a further exchange.
    /// </summary>
    private void OnPeerStatus(ReplicaPeer peer, StatusMessage theirs)
    {
        bool startSync = false, full = false, changed = false;
        ReplicaPeer? adopt = null;
        bool adoptKeepingWrites = false;
        bool serveOnceBegun = false;
        lock (_stateLock)
        {
            peer.Announced = theirs;
            if (peer.LossRecorded is { IsCompleted: false })
                return; // the strategy is deciding about this partner; it looks at this status when done
            var header = Header;
            var theirState = ReplicaStateText.Parse(theirs.State);
            bool sameGeneration = theirs.Generation == header.Generation;
            bool weAreNewer = header.History.Contains(theirs.Generation);
            bool theyAreNewer = theirs.History.Contains(header.Generation);

            if (peer.Sync is not null)
                return; // our resync of this partner is running; it reports its own end

            bool anySuspects = HasSuspects(_suspects) || theirs.SuspectsUnknown || theirs.Suspects is { Count: > 0 };
            if (LocalState == ReplicaState.Synchronized && theirState == ReplicaState.Synchronized)
            {
                if (sameGeneration && anySuspects)
                {
                    // One of us crashed with writes in flight: the copies may differ in those
                    // extents. The one that serves copies its version of them to the other (its
                    // acknowledged writes must win); when neither or both serve, the lower replica
                    // id. A copier that does not serve starts serving only once the other receives
                    // its writes (RunSyncAsync), never before.
                    bool weCopy = _serving != theirs.Serving ? _serving : LocalId < peer.Id;
                    if (weCopy)
                    {
                        foreach (long extent in _suspects?.Extents ?? [])
                            peer.Bitmap.MarkExtent(extent);
                        (startSync, full) = (true, _suspects?.IsUnknown == true || theirs.SuspectsUnknown);
                        serveOnceBegun = !_serving;
                        peer.BitmapGeneration = theirs.Generation;
                    }
                }
                else if (sameGeneration)
                {
                    changed = PairSynchronized(peer);
                }
                else if (weAreNewer && peer.ReceivesWrites)
                {
                    // We moved on by losing another node, but this partner kept receiving every
                    // write of ours: it holds our data and only has not recorded that loss (yet).
                }
                else if (weAreNewer)
                {
                    (startSync, full) = (true, peer.BitmapGeneration != theirs.Generation);
                }
                else if (LostByStepFrom(header.Generation, theirs.Generation, peer.Id) is { } other)
                {
                    // They moved on by losing another node, in one step from our generation: they
                    // never lost us, so we hold every write of theirs and are not behind.
                    bool canAdopt = _serving && other.RecordedState == ReplicaState.Synchronized && other.LossRecorded is not { IsCompleted: false };
                    if (canAdopt && (other.Link is not { IsUp: true } link || link.Silence > _options.Timings.HeartbeatInterval * 4))
                    {
                        adopt = other; // that node is silent for us too: record its loss as well (same generation)
                    }
                    else if (canAdopt && other.ReceivesWrites && other.Announced is { Serving: false } &&
                             ReplicaStateText.Parse(other.Announced.State) == ReplicaState.NotSynchronized)
                    {
                        // A partial partition already resolved: that node stopped for the one that
                        // lost it. We record the same loss (same generation) but keep sending it our
                        // writes, so that what it misses is exactly the other node's bitmap.
                        adopt = other;
                        adoptKeepingWrites = true;
                    }
                    else if (peer.PartitionReported != theirs.Generation)
                    {
                        peer.PartitionReported = theirs.Generation;
                        _log.LogError(
                            "{Device}: PARTIAL PARTITION: replica {Peer} lost replica {Other}, which this node still reaches. This node keeps both " +
                            "and their data; nothing is synchronized automatically between {Peer} and {Other} until a failover strategy decides or you run " +
                            "'tandem device mark-synchronized {Device}' on the node whose data should win.",
                            _options.DeviceName, peer.Id, other.Id, peer.Id, other.Id, _options.DeviceName);
                    }
                }
                else if (theyAreNewer)
                {
                    changed = true;
                    BecomeStale($"replica {peer.Id} holds newer data (generation {theirs.Generation})");
                }
                else
                {
                    if (!peer.SplitBrain)
                        _log.LogError(
                            "{Device}: SPLIT BRAIN with replica {Peer}: both copies were changed independently (generations {Ours} and {Theirs}). " +
                            "Nothing is synchronized until you run 'tandem device mark-synchronized {Device}' on the node whose data should win.",
                            _options.DeviceName, peer.Id, header.Generation, theirs.Generation, _options.DeviceName);
                    changed = !peer.SplitBrain;
                    peer.SplitBrain = true;
                }
            }
            else if (LocalState == ReplicaState.Synchronized && theirState != ReplicaState.Synchronized)
            {
                // They are stale: we are the source. Our copy is current unless another partner
                // proves otherwise, so we may serve, under node majority only with a majority (a
                // stale partner that does not receive our writes is no vote; otherwise the quorum
                // monitor decides, and looks at this partner again once it serves).
                bool mayServe = _strategy == FailoverStrategy.Heartbeat || HoldsWitnessVote ||
                    FailoverRules.HasMajority(1 + _peers.Count(p => p.Link is { IsUp: true } && (p.ReceivesWrites || IsBehindUs(p))), VoteCount);
                if (!_serving && mayServe && !_peers.Any(p => p.Announced is { } a && ReplicaStateText.Parse(a.State) == ReplicaState.Synchronized && a.Generation != header.Generation))
                {
                    _serving = true;
                    changed = true;
                    Unsuspend($"replica {peer.Id} is behind and this node holds a majority");
                }
                if (_serving && theirState == ReplicaState.NotSynchronized)
                    (startSync, full) = (true, peer.BitmapGeneration != theirs.Generation);
            }
            else if (LocalState != ReplicaState.Synchronized && theirState == ReplicaState.Synchronized)
            {
                // We wait to be synchronized by them.
            }
            else if (theirState == ReplicaState.NotSynchronized && LocalState == ReplicaState.NotSynchronized)
            {
                _log.LogWarning("{Device}: neither this node nor replica {Peer} holds synchronized data; run 'tandem device mark-synchronized {Device}' on the node whose data is current",
                    _options.DeviceName, peer.Id, _options.DeviceName);
            }
        }
        if (adopt is not null)
        {
            Task<bool> recorded;
            if (adoptKeepingWrites)
            {
                _log.LogWarning("{Device}: replica {Peer} lost replica {Other}, which stopped serving: recording the same loss here, still sending it writes",
                    _options.DeviceName, peer.Id, adopt.Id);
                recorded = ContinueWithoutAsync(adopt, $"replica {peer.Id} lost it and it stopped serving", keepSending: true);
            }
            else
            {
                _log.LogWarning("{Device}: replica {Peer} lost replica {Other}, which is silent for this node too: recording its loss here as well",
                    _options.DeviceName, peer.Id, adopt.Id);
                // A partner that reached us decided about it already (it outranked it, or it holds
                // a majority with us): the strategy has nothing left to decide here. Recorded
                // before the link is failed, so that its going down finds the loss in hand.
                var loss = RecordLossAsync(adopt, adopt.Link, decided: true);
                adopt.Link?.Fail(new TimeoutException($"Replica {peer.Id} lost replica {adopt.Id}, which is silent here too."));
                recorded = loss.ContinueWith(_ => adopt.RecordedState != ReplicaState.Synchronized, TaskScheduler.Default);
            }
            // Once recorded (we are then at their generation), look at their status again; not
            // when nothing changed, or the same status would adopt again and again.
            _ = recorded.ContinueWith(moved =>
            {
                if (moved is { IsCompletedSuccessfully: true, Result: true } && !_disposed && peer.Announced is { } latest)
                    OnPeerStatus(peer, latest);
            }, TaskScheduler.Default);
            return;
        }
        // Its status may change what we report for its port group even when ours did not change.
        RaiseStateChanged();
        if (changed)
            BroadcastStatus();
        // A node waiting for a majority (node majority) copies nothing yet: once it serves it looks
        // at its partners' statuses again (ReconsiderPartners).
        if (startSync && (_serving || serveOnceBegun))
        {
            // A partner that crashed tells us where its copy may differ: those extents too.
            foreach (long extent in theirs.Suspects ?? [])
                peer.Bitmap.MarkExtent(extent);
            StartSync(peer, full || theirs.SuspectsUnknown, serveOnceBegun: serveOnceBegun);
        }
    }

    /// <summary>
    /// The partner other than <paramref name="announcerId"/> whose loss turns <paramref name="ours"/>
    /// into <paramref name="theirs"/> in one step (<see cref="Generation.AfterLosing"/>), if any.
    /// </summary>
    private ReplicaPeer? LostByStepFrom(string ours, string theirs, int announcerId)
    {
        foreach (var other in _peers)
        {
            if (other.Id != announcerId && Generation.AfterLosing(ours, other.Id) == theirs)
                return other;
        }
        return null;
    }

    private static bool HasSuspects(JournalFindings? findings) => findings is { IsUnknown: true } or { Extents.Count: > 0 };

    /// <summary>
    /// Starts or stops sending client writes to a partner. Under the send lock, so that a write
    /// is either sent to it or marked in its bitmap, never neither. Returns whether it changed.
    /// </summary>
    private bool SetReceivesWrites(ReplicaPeer peer, bool value)
    {
        var told = new List<ReplicationLink>(2);
        lock (_sendLock)
        {
            if (peer.ReceivesWrites == value)
                return false;
            peer.ReceivesWrites = value;
            // Three-way: in the same step, tell the other partner, in order with our writes, whether
            // our writes from here on reach this one (WritesToMessage).
            foreach (var other in _peers)
            {
                if (other != peer && other.Link is { IsUp: true } link)
                {
                    TellWritesToLocked(link, peer.Id, value);
                    told.Add(link);
                }
            }
        }
        foreach (var link in told)
            link.Flush();
        return true;
    }

    /// <summary>Appends a <see cref="WritesToMessage"/>; the caller holds the send lock and flushes the link.</summary>
    private static void TellWritesToLocked(ReplicationLink link, int nodeId, bool sending)
    {
        var reply = link.AppendRequestLocked(FrameType.Control, new BytesPayload(new WritesToMessage(nodeId, sending).ToBytes()));
        _ = ForgetReplyAsync(reply);
    }

    private static async Task ForgetReplyAsync(PendingReply reply) => await reply.Task.ConfigureAwait(false);

    /// <summary>
    /// A partner said whether its writes reach <paramref name="nodeId"/>; from here on its writes
    /// we apply are marked for that node when they do not (<see cref="MarkForAbsentPartners"/>).
    /// </summary>
    private void OnWritesTo(ReplicaPeer from, int nodeId, bool sending)
    {
        if (nodeId is < 1 or > ReplicaLimits.MaxNodeId || nodeId == from.Id)
            return;
        bool stopped = sending == false && !from.SkipsNode[nodeId];
        from.SkipsNode[nodeId] = !sending;
        if (stopped && _peers.FirstOrDefault(p => p.Id == nodeId) is { } absent)
        {
            // Its writes that were on their way to that node when it stopped sending may never
            // have arrived there; they are among its last writes we applied (they reached us in
            // the same step, before this frame): mark them all for that node too.
            foreach (var run in from.RecentWrites.Above(0, out _))
                absent.Bitmap.MarkBlocks(run.Lba, run.BlockCount);
        }
    }

    /// <summary>Both copies are synchronized at the same generation: writes flow to the partner again.</summary>
    private bool PairSynchronized(ReplicaPeer peer)
    {
        bool changed = SetReceivesWrites(peer, true);
        peer.SplitBrain = false;
        if (!_serving && StartsServingWith(peer))
        {
            _serving = true;
            changed = true;
            _log.LogInformation("{Device}: synchronized with replica {Peer}; serving I/O", _options.DeviceName, peer.Id);
            Unsuspend($"replica {peer.Id} is back at this node's generation");
            // A partner we were synchronized with that has not come back: writes from now on
            // skip it, so its loss is recorded (a new generation) before any of them completes.
            foreach (var absent in AbsentPartners(peer))
            {
                _log.LogWarning("{Device}: replica {Peer} has not come back; this node serves without it", _options.DeviceName, absent.Id);
                _ = RecordLossAsync(absent, absent.Link); // the strategy decides (it may still serve, through another)
            }
        }
        if (_yieldedTo == peer)
            _yieldedTo = null;
        if (peer.RecordedState != ReplicaState.Synchronized)
        {
            peer.RecordedState = ReplicaState.Synchronized;
            _ = PersistAsync();
        }
        peer.Bitmap.ClearAll();
        peer.BitmapGeneration = null;
        if (changed && LocalId < peer.Id)
            _ = Task.Run(() => PartnerSynchronized?.Invoke());
        return changed;
    }

    /// <summary>
    /// Three-way: whether pairing with <paramref name="peer"/> lets this node start serving. Not while
    /// another partner it was synchronized with has not paired yet, for a start-up grace (it is
    /// probably starting too); after that, without it (its loss is then recorded).
    /// </summary>
    private bool StartsServingWith(ReplicaPeer peer)
    {
        if (_peers.Any(p => p != peer && PairsSoon(p)))
        {
            // It pairs with its status; then we serve with both (looked at again shortly, not in a loop).
            Track(Task.Delay(_options.Timings.HeartbeatInterval, _stopping.Token).ContinueWith(_ => ReconsiderPartners(), TaskScheduler.Default));
            return false;
        }
        if (!AbsentPartners(peer).Any())
            return true;
        var left = FailoverTimings.StartupGrace(_options.Timings) - System.Diagnostics.Stopwatch.GetElapsedTime(_graceFrom);
        if (left <= TimeSpan.Zero)
            return true;
        Track(Task.Delay(left, _stopping.Token).ContinueWith(_ => ReconsiderPartners(), TaskScheduler.Default));
        return false;
    }

    private IEnumerable<ReplicaPeer> AbsentPartners(ReplicaPeer except) =>
        _peers.Where(p => p != except && p.RecordedState == ReplicaState.Synchronized && !p.ReceivesWrites && p.LossRecorded is not { IsCompleted: false } && !PairsSoon(p)).ToList();

    /// <summary>
    /// A connected partner that announced a copy left behind and is being synchronized by no one:
    /// it counts as a vote for the node about to synchronize it (it receives that node's writes
    /// from the sync's first step), and for no one else (it holds nothing newer).
    /// </summary>
    private static bool IsBehindUs(ReplicaPeer peer) =>
        peer.Announced is { } a && ReplicaStateText.Parse(a.State) == ReplicaState.NotSynchronized && peer.Sync is null;

    /// <summary>
    /// A partner that is connected and announced itself synchronized at our generation is not
    /// absent: it pairs as soon as its status is handled (it must not be recorded lost meanwhile).
    /// </summary>
    private bool PairsSoon(ReplicaPeer peer) =>
        !peer.ReceivesWrites && peer.Link is { IsUp: true } && peer.Announced is { } a &&
        a.Generation == Header.Generation && ReplicaStateText.Parse(a.State) == ReplicaState.Synchronized;

    /// <summary>A partner became synchronized with this node (reservation state is handed over then).</summary>
    public event Action? PartnerSynchronized;

    /// <summary>This copy is behind: stop serving, record it, wait for a synchronized partner to copy to us.</summary>
    private void BecomeStale(string reason)
    {
        _log.LogWarning("{Device}: this node's copy is not synchronized: {Reason}", _options.DeviceName, reason);
        _serving = false;
        LocalState = ReplicaState.NotSynchronized;
        foreach (var peer in _peers)
            SetReceivesWrites(peer, false);
        _ = PersistAsync();
        BroadcastStatus();
    }

    /// <summary>
    /// The partner synchronizing this node is gone: the copy is part old, part new, and stays
    /// not synchronized. Saying so (rather than "synchronizing") is what makes the source start
    /// again when the link is back: a source does not begin on a node that reports a sync in
    /// progress.
    /// </summary>
    private void AbandonIncomingSync(ReplicaPeer source)
    {
        lock (_stateLock)
        {
            if (_syncSource != source || LocalState != ReplicaState.Synchronizing)
                return;
            _syncSource = null;
            _syncFlush = null;
            LocalState = ReplicaState.NotSynchronized;
        }
        _log.LogWarning("{Device}: synchronization of this node by replica {Peer} was interrupted; this node's copy stays not synchronized until it is synchronized again",
            _options.DeviceName, source.Id);
        // The header already says not synchronized (a sync in progress is saved that way). Another
        // synchronized partner of a three-way device may take over.
        BroadcastStatus();
        RaiseStateChanged();
    }

    private void MarkLocalStale(string reason)
    {
        lock (_stateLock)
        {
            if (LocalState == ReplicaState.NotSynchronized)
                return;
            BecomeStale(reason);
        }
        RaiseStateChanged();
    }

    /// <summary>
    /// Records, once per outage, that a partner missed writes: it stops receiving them, and if we
    /// were synchronized with it we move to a new generation (the partner's bitmap is relative to
    /// the old one). Persisted before any write that the partner missed completes.
    /// </summary>
    /// <param name="decided">The partner's loss was decided elsewhere (a partner that reached us lost it and goes on): go on without deciding.</param>
    private Task RecordLossAsync(ReplicaPeer peer, ReplicationLink? link, bool decided = false)
    {
        Task task;
        bool changed;
        lock (_stateLock)
        {
            changed = SetReceivesWrites(peer, false);
            peer.SyncCancellation?.Cancel();
            if (peer.LossRecorded is { IsCompleted: false } deciding)
            {
                task = deciding;
            }
            else if (peer.RecordedState == ReplicaState.Synchronized && LocalState == ReplicaState.Synchronized && _serving)
            {
                // A partner we served with: the failover strategy decides whether we go on.
                task = peer.LossRecorded = decided
                    ? ContinueWithoutAsync(peer, "a partner that reached this node lost it too")
                    : DecideOnLossAsync(peer);
                changed = true;
            }
            else
            {
                // A synchronized copy that does not serve made no write the partner could miss:
                // it keeps the partner recorded synchronized (otherwise, after a restart, it would
                // count as the survivor and serve alone at a generation the partner may have left).
                if (peer.RecordedState == ReplicaState.Synchronized && LocalState != ReplicaState.Synchronized)
                {
                    peer.RecordedState = ReplicaState.NotSynchronized;
                    peer.LossRecorded = PersistAsync();
                    changed = true;
                }
                task = peer.LossRecorded ?? Task.CompletedTask;
            }
        }
        if (changed)
        {
            RaiseStateChanged();
            BroadcastStatus();
        }
        return task;
    }

    /// <summary>The administrator vouches for this copy (split brain, total blackout): it becomes the one to copy from.</summary>
    public async Task MarkSynchronizedAsync()
    {
        lock (_stateLock)
        {
            var header = Header;
            // Every generation a partner has shown us goes into our history, so our copy counts as
            // newer than theirs and they are synchronized from us.
            var history = header.History;
            foreach (var peer in _peers)
            {
                if (peer.Announced is { } a)
                    history = Generation.Push(history, a.Generation);
                peer.SplitBrain = false;
                peer.BitmapGeneration = null;
                peer.Bitmap.MarkAll();
                if (peer.RecordedState == ReplicaState.Synchronized || peer.Announced is not null)
                    peer.RecordedState = ReplicaState.NotSynchronized;
            }
            string next = Generation.NewRandom();
            Volatile.Write(ref _header, header with { Generation = next, History = Generation.Push(history, header.Generation) });
            LocalState = ReplicaState.Synchronized;
            _yieldedTo = null;
            // Under node majority the copy still needs a majority to serve; the witness is told the
            // administrator's choice (its generation check is skipped once).
            _forceWitness = _strategy == FailoverStrategy.NodeMajority;
            _serving = _strategy == FailoverStrategy.Heartbeat || (1 + _peers.Count(p => p.Link is { IsUp: true })) * 2 > VoteCount;
            _suspendedBecause = _serving ? null : "marked synchronized; waiting for a majority of votes";
            _log.LogWarning("{Device}: marked synchronized by the administrator; partners will be fully synchronized from this node", _options.DeviceName);
        }
        await PersistAsync().ConfigureAwait(false);
        RaiseStateChanged();
        BroadcastStatus();
    }

    private async Task CompleteAsSyncTargetAsync(ReplicaPeer source, SyncEndMessage end)
    {
        lock (_stateLock)
        {
            _suspects = null; // the source's copy now covers every extent we could not vouch for
            var header = Header;
            Volatile.Write(ref _header, header with { Generation = end.Generation, History = end.History.Take(ReplicationHeader.MaxHistory).ToArray() });
            LocalState = ReplicaState.Synchronized;
            _syncSource = null;
            _syncFlush = null;
            _graceFrom = System.Diagnostics.Stopwatch.GetTimestamp(); // a third partner gets the start-up grace to pair again
            source.RecordedState = ReplicaState.Synchronized;
            source.SplitBrain = false;
            // What we recorded of a third partner belongs to the generation we left. Recorded
            // synchronized now (the conservative side): if it is missing, its loss goes through
            // the strategy; if it is behind, the generations say so when it connects.
            foreach (var other in _peers)
            {
                if (other != source)
                    other.RecordedState = ReplicaState.Synchronized;
            }
        }
        await PersistAsync().ConfigureAwait(false);
        lock (_stateLock)
        {
            PairSynchronized(source);
        }
        ReconsiderPartners(); // a third partner at the generation we just adopted pairs now
        _log.LogInformation("{Device}: synchronized from replica {Peer} (generation {Generation})", _options.DeviceName, source.Id, end.Generation);
        RaiseStateChanged();
        BroadcastStatus();
    }

    /// <summary>Writes the current state into the header; serialised, newest state wins.</summary>
    private async Task PersistAsync()
    {
        await _persistGate.WaitAsync().ConfigureAwait(false);
        try
        {
            ReplicationHeader header;
            lock (_stateLock)
            {
                var current = Header;
                header = current with
                {
                    State = LocalState == ReplicaState.Synchronized ? ReplicaStateText.Synchronized : ReplicaStateText.NotSynchronized,
                    Nodes = current.Nodes.Select(n => n.NodeId == LocalId
                        ? n with { State = LocalState == ReplicaState.Synchronized ? ReplicaStateText.Synchronized : ReplicaStateText.NotSynchronized }
                        : n with { State = PeerById(n.NodeId).RecordedState == ReplicaState.Synchronized ? ReplicaStateText.Synchronized : ReplicaStateText.NotSynchronized })
                        .ToArray(),
                    Running = !_disposed,
                };
                Volatile.Write(ref _header, header);
            }
            await _options.Persist(header, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Device}: could not save the replication state", _options.DeviceName);
            throw;
        }
        finally
        {
            _persistGate.Release();
        }
    }

    private void RaiseStateChanged()
    {
        try
        {
            StateChanged?.Invoke();
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Device}: a state-change handler failed", _options.DeviceName);
        }
    }
}
