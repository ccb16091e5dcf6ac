using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Replication.Sync;
using Tandem.Replication.Wire;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>
/// The failover strategy (docs/design/failover.md): what this node does when it loses a
/// synchronized partner it was serving with. It goes on alone (moving to a new generation, the
/// partner's bitmap keeping the resync partial), it yields (stops serving and marks its copy left
/// behind), or, under node majority, it suspends (stops serving, copy still current) until it has
/// a majority of votes again. While that is being decided the writes that would skip the partner
/// wait, so none completes on a node that is about to stop.
/// </summary>
public sealed partial class ReplicatedDevice
{
    private readonly FailoverStrategy _strategy;

    /// <summary>Decisions running that may end with this node stopping: I/O waits (NOT READY, transitioning) meanwhile.</summary>
    private int _deciding;

    /// <summary>Why this node does not serve although its copy is current (node majority), or null.</summary>
    private volatile string? _suspendedBecause;

    /// <summary>The partner this node yielded to: until its sync link is back, no one else may resynchronize us.</summary>
    private ReplicaPeer? _yieldedTo;

    public FailoverStrategy Strategy => _strategy;

    /// <summary>Why this node does not serve although its copy is current (no majority), or null.</summary>
    public string? SuspendedBecause => _suspendedBecause;

    private readonly record struct LossDecision(LossOutcome Outcome, string Reason)
    {
        public static LossDecision Continue(string reason) => new(LossOutcome.Continue, reason);
        public static LossDecision Yield(string reason) => new(LossOutcome.Yield, reason);
        public static LossDecision Suspend(string reason) => new(LossOutcome.Suspend, reason);
    }

    private ReplicaNodeHeader Me => Header.Nodes.First(n => n.NodeId == LocalId);

    private bool Outranks(ReplicaPeer peer) => FailoverStrategyText.Outranks(Me, peer.Member);

    /// <summary>
    /// Runs the strategy for a synchronized partner just lost, then applies the outcome. Started by
    /// <see cref="RecordLossAsync"/>; the task is the partner's loss gate.
    /// </summary>
    private Task DecideOnLossAsync(ReplicaPeer lost)
    {
        // A node that may lose must not serve reads while it finds out (from now: the partner is
        // already out of the write path): the winner completes writes without it only once it is
        // sure this node has stopped.
        bool mayLose = _strategy == FailoverStrategy.NodeMajority || !Outranks(lost) || _peers.Length > 1;
        if (mayLose)
            Interlocked.Increment(ref _deciding);
        return Task.Run(() => DecideOnLossAsync(lost, mayLose));
    }

    private async Task DecideOnLossAsync(ReplicaPeer lost, bool mayLose)
    {
        RaiseStateChanged();
        try
        {
            LossDecision decision;
            try
            {
                decision = await DecideAsync(lost).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                decision = LossDecision.Suspend($"the failover decision failed: {e.Message}");
            }
            switch (decision.Outcome)
            {
                case LossOutcome.Continue:
                    await ContinueWithoutAsync(lost, decision.Reason).ConfigureAwait(false);
                    break;
                case LossOutcome.Yield:
                    await YieldToAsync(lost, decision.Reason).ConfigureAwait(false);
                    break;
                default:
                    Suspend(decision.Reason);
                    break;
            }
        }
        finally
        {
            if (mayLose)
                Interlocked.Decrement(ref _deciding);
            RaiseStateChanged();
            // The partner may have come back while we decided: look at what it said last.
            if (lost.Link is { IsUp: true } && lost.Announced is { } announced)
                OnPeerStatus(lost, announced);
        }
    }

    private async Task<LossDecision> DecideAsync(ReplicaPeer lost)
    {
        // A partner of ours that still reaches the lost node, and sees it serving: a partial
        // partition. Both of the nodes that lost each other would keep a majority through it, so
        // rank decides, whatever the strategy: exactly one of the two stops.
        foreach (var other in _peers)
        {
            if (other == lost || other.Link is not { IsUp: true } link || !other.ReceivesWrites)
                continue;
            var (reaches, serving) = await ReachQueryAsync(link, lost.Id).ConfigureAwait(false);
            if (!reaches || !serving)
                continue;
            if (FailoverRules.Contested(Outranks(lost)) == LossOutcome.Yield)
            {
                // The third node may simply not have noticed yet that the lost one died: yield
                // only to a node it still hears a whole link timeout later.
                if (!await StillReachedAsync(link, lost.Id).ConfigureAwait(false))
                    continue;
                return LossDecision.Yield($"replica {lost.Id} outranks this node, and replica {other.Id} still reaches both (a partial partition)");
            }
            if (!await ConfirmStoppedAsync(lost, $"replica {other.Id} still reaches both nodes (a partial partition) and this node outranks it").ConfigureAwait(false))
                return WentOnWithoutUs(lost);
            return LossDecision.Continue($"this node outranks replica {lost.Id}; replica {other.Id} still reaches both (a partial partition)");
        }

        if (_strategy == FailoverStrategy.Heartbeat)
        {
            var heard = await HeartbeatAnswersAsync(lost).ConfigureAwait(false);
            // A partner that answers but holds no current copy serves nothing: we never yield to it.
            if (heard == PartnerAnswer.Behind)
                return LossDecision.Continue($"replica {lost.Id} answers its heartbeat but its copy is not synchronized");
            bool answers = heard == PartnerAnswer.Current;
            if (FailoverRules.Heartbeat(answers, Outranks(lost)) == LossOutcome.Yield)
                return LossDecision.Yield($"every sync channel to replica {lost.Id} is lost, its heartbeat answers, and it outranks this node");
            if (answers)
            {
                switch (await FenceOverHeartbeatAsync(lost, $"replica {LocalId} lost every sync channel to it and outranks it").ConfigureAwait(false))
                {
                    case FenceAnswer.WentOn:
                        return WentOnWithoutUs(lost);
                    case FenceAnswer.NoAnswer when !await ConfirmStoppedAsync(lost, "its heartbeat answers probes but not the fence").ConfigureAwait(false):
                        return WentOnWithoutUs(lost);
                }
                return LossDecision.Continue($"every sync channel to replica {lost.Id} is lost; its heartbeat answers and this node outranks it");
            }
            _log.LogError(FailoverEvents.SplitBrainRisk,
                "{Device}: SPLIT-BRAIN RISK: every sync and heartbeat channel to replica {Peer} is lost; this node goes on serving. If replica {Peer} " +
                "is alive it does the same, and reconnecting reports a split brain (give the replica two independent heartbeat channels)",
                _options.DeviceName, lost.Id, lost.Id);
            return LossDecision.Continue($"every channel to replica {lost.Id} is lost (split-brain risk)");
        }

        // Node majority.
        int total = VoteCount;
        int votes = 1 + _peers.Count(p => p != lost && p.Link is { IsUp: true } && p.ReceivesWrites);
        switch (FailoverRules.NodeMajority(votes, total, _witness is not null))
        {
            case LossOutcome.Continue:
                if (!await ConfirmStoppedAsync(lost, $"this node keeps {votes} of {total} votes").ConfigureAwait(false))
                    return WentOnWithoutUs(lost);
                return LossDecision.Continue($"this node keeps {votes} of {total} votes without replica {lost.Id}");
            case LossOutcome.Suspend:
                return LossDecision.Suspend($"this node reaches {votes} of {total} votes without replica {lost.Id}");
        }
        var header = Header;
        var witness = _witness!;
        var answer = await AskWitnessAsync(header.Generation, header.History, Generation.AfterLosing(header.Generation, lost.Id), force: false).ConfigureAwait(false);
        if (FailoverRules.AfterWitness(answer.Verdict) == LossOutcome.Suspend)
            return LossDecision.Suspend($"replica {lost.Id} is lost and {witness.Description} does not vote for this node ({answer.Reason})");
        if (!await ConfirmStoppedAsync(lost, $"{witness.Description} votes for this node").ConfigureAwait(false))
            return WentOnWithoutUs(lost);
        return LossDecision.Continue($"{witness.Description} votes for this node without replica {lost.Id}");
    }

    private static LossDecision WentOnWithoutUs(ReplicaPeer lost) =>
        LossDecision.Yield($"replica {lost.Id} already went on without this node (it refused the fence)");

    /// <summary>Votes of the device: one per data node, one for the witness.</summary>
    private int VoteCount => Header.Nodes.Count + (_witness is null ? 0 : 1);

    /// <summary>
    /// Returns once <paramref name="lost"/> has surely stopped serving: it said so (a fence over a
    /// heartbeat channel, or a partner reports it not serving or out of reach for long enough), or
    /// it has been a whole link timeout since our link to it went down, which it cannot outlast.
    /// </summary>
    /// <returns>False when the partner answered the fence that it already went on without us: we must yield.</returns>
    private async Task<bool> ConfirmStoppedAsync(ReplicaPeer lost, string why)
    {
        var watch = Stopwatch.StartNew();
        switch (await FenceOverHeartbeatAsync(lost, $"replica {LocalId} goes on without it: {why}").ConfigureAwait(false))
        {
            case FenceAnswer.Stopped:
                return true;
            case FenceAnswer.WentOn:
                return false;
        }
        var wait = FailoverTimings.PartnerSurelyBlocked(_options.Timings);
        long since = lost.LinkDownTicks == 0 ? Stopwatch.GetTimestamp() : lost.LinkDownTicks;
        // At least one round: the other partners are always asked, however old the link's loss.
        bool asked = false;
        while (!_stopping.IsCancellationRequested && (!asked || Stopwatch.GetElapsedTime(since) < wait))
        {
            asked = true;
            if (lost.Link is { IsUp: true } back)
            {
                // It came back while we waited (links are refused meanwhile; this one slipped in):
                // drop it, and the wait starts again from now.
                back.Fail(new IOException("The failover strategy is still deciding about this partner."));
                since = Stopwatch.GetTimestamp();
            }
            foreach (var other in _peers)
            {
                if (other == lost || other.Link is not { IsUp: true } link)
                    continue;
                var (reaches, serving) = await ReachQueryAsync(link, lost.Id).ConfigureAwait(false);
                if (reaches && !serving)
                    return true; // it says it stopped, to a partner that still hears it
                if (reaches)
                    since = Stopwatch.GetTimestamp(); // it may still count that partner's vote: its timeout starts when that link goes
            }
            if (Stopwatch.GetElapsedTime(since) < wait)
                await Task.Delay(_options.Timings.HeartbeatInterval, _stopping.Token).ConfigureAwait(false);
        }
        _log.LogInformation("{Device}: replica {Peer} has surely stopped serving ({Seconds:0.0} s after the loss)", _options.DeviceName, lost.Id, watch.Elapsed.TotalSeconds);
        return true;
    }

    /// <summary>
    /// Whether the partner on <paramref name="link"/> still hears <paramref name="nodeId"/> serving
    /// for one link timeout and a heartbeat: a node that died is declared down by then.
    /// </summary>
    private async Task<bool> StillReachedAsync(ReplicationLink link, int nodeId)
    {
        var window = FailoverTimings.PartnerSurelyBlocked(_options.Timings);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < window)
        {
            await Task.Delay(_options.Timings.HeartbeatInterval, _stopping.Token).ConfigureAwait(false);
            if (!link.IsUp)
                return false;
            var (reaches, serving) = await ReachQueryAsync(link, nodeId).ConfigureAwait(false);
            if (!reaches || !serving)
                return false;
        }
        return true;
    }

    /// <summary>Asks a partner whether it still hears <paramref name="nodeId"/> and whether that node serves.</summary>
    private async Task<(bool Reaches, bool Serving)> ReachQueryAsync(ReplicationLink link, int nodeId)
    {
        var reply = await AskAsync(link, new ReachQueryMessage(nodeId).ToBytes()).ConfigureAwait(false);
        if (reply is not { IsOk: true } ok || ok.Body is not [var bits, ..])
            return (false, false);
        return ((bits & 1) != 0, (bits & 2) != 0);
    }

    /// <summary>Answers a <see cref="ReachQueryMessage"/>: whether we hear that node now, and whether it serves.</summary>
    private byte ReachBits(int nodeId)
    {
        var peer = _peers.FirstOrDefault(p => p.Id == nodeId);
        if (peer?.Link is not { IsUp: true } link || link.Silence > _options.Timings.HeartbeatInterval * 3)
            return 0;
        return (byte)(1 | (peer.Announced is { Serving: true } && peer.ReceivesWrites ? 2 : 0));
    }

    /// <summary>
    /// Goes on without <paramref name="lost"/>: it stops receiving writes (already), we move to a
    /// new generation (its bitmap is relative to the old one), persisted before any write it missed
    /// completes.
    /// </summary>
    /// <param name="keepSending">
    /// The partner is reachable but stopped serving (it yielded in a partial partition): keep
    /// sending it our writes, so that what it misses is only what the node it yielded to marked.
    /// </param>
    /// <returns>Whether it went on (moved to the new generation); false when nothing was to be done.</returns>
    private async Task<bool> ContinueWithoutAsync(ReplicaPeer lost, string reason, bool keepSending = false)
    {
        Task persisted = Task.CompletedTask;
        bool moved = false;
        lock (_stateLock)
        {
            if (lost.RecordedState == ReplicaState.Synchronized && lost.ReceivesWrites == keepSending && LocalState == ReplicaState.Synchronized && _serving)
            {
                var header = Header;
                lost.RecordedState = ReplicaState.NotSynchronized;
                lost.BitmapGeneration = header.Generation;
                string next = Generation.AfterLosing(header.Generation, lost.Id);
                Volatile.Write(ref _header, header with { Generation = next, History = Generation.Push(header.History, header.Generation) });
                _log.LogWarning(FailoverEvents.ContinuesAlone, "{Device}: replica {Peer} is lost; this node continues without it ({Reason}) and records what it misses (generation {Generation})",
                    _options.DeviceName, lost.Id, reason, next);
                persisted = PersistAsync();
                moved = true;
            }
        }
        await persisted.ConfigureAwait(false);
        if (moved)
        {
            RaiseStateChanged();
            BroadcastStatus();
            if (!keepSending)
                TellSurvivorsHowFarWeGot(lost);
        }
        return moved;
    }

    /// <summary>
    /// Stops serving because <paramref name="winner"/> goes on without us: our copy is left behind.
    /// The extents of writes we accepted and it may not have are announced (as suspects), so its
    /// fast sync of us covers them too. No one else may resynchronize us until its link is back.
    /// </summary>
    private async Task YieldToAsync(ReplicaPeer winner, string reason)
    {
        lock (_stateLock)
        {
            if (LocalState == ReplicaState.NotSynchronized && _yieldedTo == winner)
                return;
            // Writes this node accepted that the winner may lack: those it failed to send (marked),
            // and those still in flight or failed on any partner (the in-flight journal).
            var extents = _journal?.ExtentsInFlight() ?? [];
            extents.AddRange(winner.Bitmap.MarkedExtents());
            if (_suspects is { IsUnknown: false } earlier)
                extents = [.. earlier.Extents.Union(extents)];
            if (_suspects is not { IsUnknown: true })
                _suspects = new JournalFindings(false, extents, $"writes this node accepted before it stopped for replica {winner.Id}");
            _yieldedTo = winner;
            _suspendedBecause = null;
            if (LocalState != ReplicaState.NotSynchronized)
                BecomeStale(reason);
        }
        _log.LogWarning(FailoverEvents.DeviceBlocked, "{Device}: I/O blocked on this node: {Reason}", _options.DeviceName, reason);
        winner.Link?.Fail(new IOException($"This node yields to replica {winner.Id}."));
        RaiseStateChanged();
        await PersistAsync().ConfigureAwait(false);
    }

    /// <summary>Node majority: no majority of votes. Stops serving; the copy stays current (and synchronized in the header).</summary>
    private void Suspend(string reason)
    {
        lock (_stateLock)
        {
            if (!_serving || LocalState != ReplicaState.Synchronized)
                return;
            _serving = false;
            _suspendedBecause = reason;
            // Writes this node applied that a partner may lack: whoever resynchronizes first copies them.
            var extents = _journal?.ExtentsInFlight() ?? [];
            foreach (var peer in _peers)
                extents.AddRange(peer.Bitmap.MarkedExtents());
            if (extents.Count > 0 && _suspects is not { IsUnknown: true })
                _suspects = new JournalFindings(false, [.. (_suspects?.Extents ?? []).Union(extents)], "writes this node accepted before it lost its majority");
        }
        _log.LogError(FailoverEvents.QuorumLost, "{Device}: QUORUM LOST: {Reason}; I/O is blocked on this node until it reaches a majority again", _options.DeviceName, reason);
        _log.LogWarning(FailoverEvents.DeviceBlocked, "{Device}: I/O blocked on this node: {Reason}", _options.DeviceName, reason);
        RaiseStateChanged();
        BroadcastStatus();
    }

    /// <summary>A suspended node has a majority again (a partner is back at our generation, or the witness votes for us).</summary>
    private void Unsuspend(string reason)
    {
        if (_suspendedBecause is null)
            return;
        _suspendedBecause = null;
        _log.LogInformation(FailoverEvents.QuorumRegained, "{Device}: quorum regained: {Reason}", _options.DeviceName, reason);
        _log.LogInformation(FailoverEvents.DeviceUnblocked, "{Device}: I/O unblocked on this node", _options.DeviceName);
    }

    /// <summary>Three-way: partners learn whom we reach, so that a partial partition is seen as one.</summary>
    private void BroadcastReachIfThreeWay()
    {
        if (_peers.Length > 1 && !_disposed)
            BroadcastStatus();
    }

    /// <summary>Replica ids we reach and send writes to (for <see cref="StatusMessage.Reaches"/>).</summary>
    private IReadOnlyList<int> Reached() => [.. _peers.Where(p => p.Link is { IsUp: true } && p.ReceivesWrites).Select(p => p.Id)];

    /// <summary>Warnings about how the replica set is wired (API, CLI, log at start).</summary>
    public IReadOnlyList<string> FailoverWarnings
    {
        get
        {
            var warnings = new List<string>();
            foreach (var peer in _peers)
            {
                // The higher id of a pair listens for the heartbeat channels; the lower dials them.
                var listener = peer.Id > LocalId ? peer.Member : Me;
                var syncHosts = listener.SyncChannels.Select(HostOf).ToHashSet(StringComparer.OrdinalIgnoreCase);
                int independent = listener.HeartbeatChannels.Select(HostOf).Where(h => !syncHosts.Contains(h)).Distinct(StringComparer.OrdinalIgnoreCase).Count();
                if (independent < 2)
                    warnings.Add($"replica {peer.Id} has {independent} heartbeat channel(s) independent of its sync channels; give it two, " +
                                 (_strategy == FailoverStrategy.Heartbeat
                                     ? "or a cut of the networks leaves both nodes serving (split-brain risk)"
                                     : "so that a cut sync network is told apart from a dead node quickly"));
            }
            if (_strategy == FailoverStrategy.NodeMajority && Header.Nodes.Count == 2 && _witness is null)
                warnings.Add("node majority with two data nodes and no witness: losing either node stops I/O on both; add one with 'tandem witness add'");
            return warnings;
        }
    }

    private static string HostOf(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        return (colon > 0 ? endpoint[..colon] : endpoint).Trim('[', ']');
    }

    private void LogFailoverWarnings()
    {
        foreach (var warning in FailoverWarnings)
            _log.LogWarning(FailoverEvents.FewHeartbeatChannels, "{Device}: {Warning}", _options.DeviceName, warning);
    }
}
