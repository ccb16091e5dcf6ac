using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Failover;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>
/// Node majority (docs/design/failover.md): the quorum monitor, and the witness of a two-node
/// device. A node serves only while it reaches more than half of the votes: itself, each partner
/// whose sync link is up and that receives its writes, and the witness while it holds the
/// witness's vote (counted only for the trusted part of each lease, renewed four times a lease).
/// </summary>
public sealed partial class ReplicatedDevice
{
    private IWitness? _witness;
    private readonly SemaphoreSlim _witnessGate = new(1, 1);

    /// <summary>Until when (Stopwatch ticks) this node counts the witness's vote; 0: it does not hold it.</summary>
    private long _voteTrustedUntil;
    private long _nextVoteAttempt;
    /// <summary>
    /// Start of the grace in which partners may still connect before they count as absent: the
    /// node's start, and again whenever it was just resynchronized (its partners redial then).
    /// </summary>
    private long _graceFrom = Stopwatch.GetTimestamp();
    private volatile string? _witnessAnswer;

    /// <summary>The administrator marked this copy synchronized: the next vote request skips the witness's generation check.</summary>
    private volatile bool _forceWitness;

    /// <summary>The witness, in words, or null.</summary>
    public string? WitnessDescription => _witness?.Description;

    /// <summary>Whether this node holds the witness's vote now.</summary>
    public bool HoldsWitnessVote => Stopwatch.GetTimestamp() < Volatile.Read(ref _voteTrustedUntil);

    /// <summary>The witness's last answer to this node ("granted", or why not), or null before the first.</summary>
    public string? LastWitnessAnswer => _witnessAnswer;

    /// <summary>
    /// Records a witness for this device (null: removes it) in the header and starts using it.
    /// Called on every data node of the device (the node where the administrator ran
    /// <c>witness add</c> tells its partner).
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is not a two-node, node-majority device.</exception>
    public async Task SetWitnessAsync(WitnessHeader? witness)
    {
        if (witness is not null)
        {
            if (_strategy != FailoverStrategy.NodeMajority)
                throw new InvalidOperationException($"{_options.DeviceName} uses the {_strategy.ToText()} failover strategy; only node-majority devices have a witness.");
            if (Header.Nodes.Count != 2)
                throw new InvalidOperationException($"{_options.DeviceName} has three data nodes, which need no witness.");
            if (witness.FindProblem() is { } problem)
                throw new ArgumentException(problem, nameof(witness));
        }
        lock (_stateLock)
            Volatile.Write(ref _header, Header with { Witness = witness });
        await PersistAsync().ConfigureAwait(false);
        var old = _witness;
        _witness = witness is null ? null : OpenWitness(witness);
        Volatile.Write(ref _voteTrustedUntil, 0);
        if (old is not null)
            await ReleaseAndCloseWitnessAsync(old).ConfigureAwait(false);
        _log.LogInformation(FailoverEvents.WitnessVote, "{Device}: witness {Witness}", _options.DeviceName, witness?.ToString() ?? "removed");
        RaiseStateChanged();
    }

    private IWitness? OpenWitness(WitnessHeader witness)
    {
        if (_options.WitnessFactory is not { } factory)
        {
            _log.LogError("{Device}: this node cannot reach witnesses; {Witness} never votes for it", _options.DeviceName, witness);
            return null;
        }
        return factory(witness);
    }

    private async Task ReleaseAndCloseWitnessAsync(IWitness witness)
    {
        try
        {
            if (Volatile.Read(ref _voteTrustedUntil) != 0)
                await witness.ReleaseAsync(LocalId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.LogWarning("{Device}: could not give the witness vote back: {Error}", _options.DeviceName, e.Message);
        }
        await witness.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Asks the witness for its vote (or renews it); one request at a time.</summary>
    private async Task<WitnessAnswer> AskWitnessAsync(string generation, IReadOnlyList<string> history, string next, bool force)
    {
        if (_witness is not { } witness)
            return WitnessAnswer.Unreachable("this device has no witness");
        await _witnessGate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        try
        {
            long start = Stopwatch.GetTimestamp();
            var answer = await witness.RequestVoteAsync(new WitnessRequest(LocalId, generation, history, next, force), _stopping.Token).ConfigureAwait(false);
            bool held = HoldsWitnessVote;
            if (answer.Verdict == WitnessVerdict.Granted)
                Volatile.Write(ref _voteTrustedUntil, start + (long)(answer.Lease.TotalSeconds * WitnessLease.TrustedFraction * Stopwatch.Frequency));
            else if (answer.Verdict == WitnessVerdict.Refused)
                Volatile.Write(ref _voteTrustedUntil, 0);
            if (answer.Reason != _witnessAnswer || held != HoldsWitnessVote)
            {
                _log.Log(answer.Verdict == WitnessVerdict.Granted ? LogLevel.Information : LogLevel.Warning, FailoverEvents.WitnessVote,
                    "{Device}: {Witness}: {Answer}", _options.DeviceName, witness.Description, answer.Reason);
            }
            _witnessAnswer = answer.Reason;
            return answer;
        }
        finally
        {
            _witnessGate.Release();
        }
    }

    private void StartFailoverMonitor()
    {
        _graceFrom = Stopwatch.GetTimestamp();
        LogFailoverWarnings();
        if (_strategy == FailoverStrategy.NodeMajority)
            Track(Task.Run(QuorumMonitorLoopAsync));
    }

    private async Task QuorumMonitorLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.Timings.HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await CheckQuorumAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _log.LogError(e, "{Device}: quorum check failed", _options.DeviceName);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Keeps "serving" equal to "holds a majority": stops a node whose majority is gone (the
    /// witness vote lapsed, partners lost), renews the witness vote while it is needed, gives it
    /// back when not, and asks for it for a suspended or just-started node whose partner is away.
    /// </summary>
    private async Task CheckQuorumAsync()
    {
        if (_disposed || LocalState != ReplicaState.Synchronized || _peers.Any(p => p.LossRecorded is { IsCompleted: false }))
            return;
        int total = VoteCount;
        int votes = 1 + _peers.Count(p => p.Link is { IsUp: true } && p.ReceivesWrites);
        if (FailoverRules.HasMajority(votes, total))
        {
            if (Volatile.Read(ref _voteTrustedUntil) != 0 && _witness is { } held && _peers.All(p => p.ReceivesWrites && p.Link is { IsUp: true }))
            {
                Volatile.Write(ref _voteTrustedUntil, 0);
                await held.ReleaseAsync(LocalId, _stopping.Token).ConfigureAwait(false);
            }
            return;
        }
        if (_witness is null)
        {
            if (_serving)
                Suspend($"this node reaches {votes} of {total} votes");
            return;
        }
        if (Stopwatch.GetTimestamp() < Volatile.Read(ref _nextVoteAttempt))
        {
            if (_serving && !HoldsWitnessVote)
                Suspend($"the vote of {_witness.Description} lapsed ({_witnessAnswer})");
            return;
        }
        Volatile.Write(ref _nextVoteAttempt, Stopwatch.GetTimestamp() + (long)(_options.WitnessLease.TotalSeconds / WitnessLease.RenewalsPerLease * Stopwatch.Frequency));
        var header = Header;
        if (_serving)
        {
            var renewal = await AskWitnessAsync(header.Generation, header.History, header.Generation, force: false).ConfigureAwait(false);
            if (renewal.Verdict == WitnessVerdict.Refused || !HoldsWitnessVote)
                Suspend($"{_witness.Description} no longer votes for this node ({renewal.Reason})");
            return;
        }

        // Not serving with a current copy: suspended, or just started with its partner away.
        var away = _peers.Where(p => p.RecordedState == ReplicaState.Synchronized && p.Link is not { IsUp: true }).ToList();
        if (away.Count > 0 && Stopwatch.GetElapsedTime(_graceFrom) < FailoverTimings.StartupGrace(_options.Timings))
            return; // give a partner that starts with us the time to connect
        string next = away.Aggregate(header.Generation, (g, p) => Generation.AfterLosing(g, p.Id));
        var answer = await AskWitnessAsync(header.Generation, header.History, next, _forceWitness).ConfigureAwait(false);
        if (answer.Verdict != WitnessVerdict.Granted)
            return;
        _forceWitness = false;
        Task persisted;
        lock (_stateLock)
        {
            if (_serving || LocalState != ReplicaState.Synchronized || Header.Generation != header.Generation)
                return;
            foreach (var peer in away)
            {
                SetReceivesWrites(peer, false);
                peer.RecordedState = ReplicaState.NotSynchronized;
                peer.BitmapGeneration ??= header.Generation;
            }
            if (next != header.Generation)
                Volatile.Write(ref _header, header with { Generation = next, History = Generation.Push(header.History, header.Generation) });
            persisted = PersistAsync();
        }
        await persisted.ConfigureAwait(false); // the new generation is on disk before any write it covers
        lock (_stateLock)
            _serving = true;
        Unsuspend($"{_witness.Description} votes for this node");
        RaiseStateChanged();
        BroadcastStatus();
        ReconsiderPartners();
    }

    /// <summary>This node serves again: partners it could not synchronize meanwhile are looked at again.</summary>
    private void ReconsiderPartners()
    {
        foreach (var peer in _peers)
        {
            if (peer.Link is { IsUp: true } && peer.Announced is { } announced)
                OnPeerStatus(peer, announced);
        }
    }
}
