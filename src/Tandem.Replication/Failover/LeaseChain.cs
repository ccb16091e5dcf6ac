using Microsoft.Extensions.Logging;

namespace Tandem.Replication.Failover;

/// <summary>
/// The protocol of a file-share witness (docs/design/file-share-witness.md), as one data node runs
/// it: follow the chain of records to its head, decide with <see cref="WitnessBallot"/>, and publish
/// the next record with link(2). What makes it safe:
/// <list type="bullet">
/// <item>Every grant, renewal included, publishes a new record, and only one node can publish a
/// given sequence: two nodes acting on the same head cannot both win.</item>
/// <item>Expiry is a duration on this node's clock: another node's vote has run out only when this
/// node has watched the head stay the same for a whole lease. The head's writer asked before the
/// record existed, so before this node first saw it: its trust (¾ of a lease from its ask) is over
/// before this node's wait (a whole lease from seeing it) is, whatever the clocks read.</item>
/// <item>A stale view only delays: a record this node has not seen yet makes its own publish fail.</item>
/// </list>
/// Synchronous file I/O; not thread-safe (the owner runs one operation at a time, on a worker).
/// </summary>
internal sealed class LeaseChain(LeaseFolder folder, TimeSpan lease, Func<TimeSpan> clock, int keepRecords, ILogger log)
{
    // A publish that lost to another node's record re-reads and decides again, this many times.
    private const int Attempts = 3;

    private bool _listed;
    private long _headSequence;        // 0: the chain is empty (the witness never voted)
    private LeaseRecord? _head;        // null with a sequence: that record is corrupt
    private string? _headProblem;
    private TimeSpan _headSeenAt;      // when this node first saw the head: the start of its watch
    private long _oldest;              // lowest record this node knows to exist, for pruning
    private readonly HashSet<int> _cleaned = [];

    public long HeadSequence => _headSequence;

    public WitnessAnswer Decide(WitnessRequest request)
    {
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            Refresh(request.NodeId);
            TimeSpan now = clock();
            WitnessAnswer answer;
            WitnessBallotState next;
            if (_head is null && _headSequence > 0)
            {
                if (!TryPastCorrupt(request, now, out answer, out next))
                    return answer;
            }
            else
            {
                // The ballot's own expiry, counted from when this node first saw the head.
                var ballot = new WitnessBallot(_head?.State, lease, _headSeenAt);
                answer = ballot.Decide(request, now, out _);
                if (answer.Verdict != WitnessVerdict.Granted)
                    return answer;
                next = ballot.State;
            }
            if (TryAppend(next, request.NodeId))
                return answer;
        }
        return WitnessAnswer.Refused("the witness's records kept changing while this replica asked (the other replica is active)");
    }

    /// <summary>Gives the vote back if this replica holds it; the generation stays recorded.</summary>
    public void Release(int nodeId)
    {
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            Refresh(nodeId);
            if (_head is not { } head || head.State.Holder != nodeId)
                return;
            if (TryAppend(head.State with { Holder = null }, nodeId))
                return;
        }
    }

    // A corrupt head hides which generation the witness last voted for, so nobody may be judged
    // current against it: only an administrator's force moves past it, and even then only once
    // its writer, whoever that was, has had a whole lease to stop trusting it.
    private bool TryPastCorrupt(WitnessRequest request, TimeSpan now, out WitnessAnswer answer, out WitnessBallotState next)
    {
        next = WitnessBallotState.Empty;
        if (!request.Force)
        {
            answer = WitnessAnswer.Refused(
                $"witness record {folder.RecordPath(_headSequence)} is unreadable ({_headProblem}); the witness votes for no one " +
                "until an administrator marks a replica synchronized");
            return false;
        }
        if (now - _headSeenAt < lease)
        {
            answer = WitnessAnswer.Refused($"witness record {_headSequence} is unreadable ({_headProblem}); waiting a whole lease before moving past it");
            return false;
        }
        next = new WitnessBallotState(request.NodeId, request.NextGeneration, request.NodeId);
        answer = WitnessAnswer.Granted(lease);
        return true;
    }

    /// <summary>Follows the chain from what this node knows to the newest record the server has.</summary>
    private void Refresh(int nodeId)
    {
        folder.CheckPresent();
        if (_cleaned.Add(nodeId))
            folder.DeleteLeftovers(nodeId);
        // The head this node knows must still be there: if it was pruned, this node fell far
        // behind, and probing past it would find nothing and mistake an old head for the newest.
        if (_listed && _headSequence > 0 && !folder.Read(_headSequence).Exists)
        {
            log.LogWarning("File-share witness {Folder}: record {Sequence} is gone; reading the folder again", folder.Path, _headSequence);
            _listed = false;
        }
        if (!_listed)
        {
            List<long> sequences = folder.ListSequences();
            // Pruning always leaves the newest records: an empty folder after records were seen
            // is a wiped or different share, and an empty chain would vote for a stale replica.
            if (sequences.Count == 0 && _headSequence > 0)
                throw new WitnessShareException($"the witness's records in {folder.Path} are gone (share wiped or replaced?); add the witness again once both replicas are synchronized");
            _headSequence = sequences.Count == 0 ? 0 : sequences[^1];
            _oldest = sequences.Count == 0 ? 1 : sequences[0];
            SetHead(_headSequence == 0 ? default : folder.Read(_headSequence));
            _listed = true;
        }
        while (true)
        {
            var read = folder.Read(_headSequence + 1);
            if (!read.Exists)
                return;
            _headSequence++;
            SetHead(read);
        }
    }

    private void SetHead(RecordRead read)
    {
        _head = read.Record;
        _headProblem = read.Problem;
        _headSeenAt = clock();
        if (read.Problem is not null)
            log.LogError("File-share witness {Folder}: record {Sequence} is unreadable: {Problem}", folder.Path, _headSequence, read.Problem);
    }

    /// <summary>Publishes the record after the head; false when another node published it first.</summary>
    private bool TryAppend(WitnessBallotState state, int writer)
    {
        long sequence = _headSequence + 1;
        var record = new LeaseRecord(sequence, state, writer, LeaseFolder.NewNonce());
        if (!folder.Publish(record))
            return false;
        // The name was free. Had it been pruned long ago (this node's view far behind), the record
        // before it would be gone too (pruning goes oldest first), so checking it is still there
        // proves this record continues the real chain.
        if (sequence > 1 && !folder.Read(sequence - 1).Exists)
        {
            folder.Delete(sequence);
            _listed = false;
            log.LogWarning("File-share witness {Folder}: record {Sequence} was published on a stale view and withdrawn", folder.Path, sequence);
            return false;
        }
        _headSequence = sequence;
        SetHead(RecordRead.Valid(record));
        Prune();
        return true;
    }

    /// <summary>Deletes records more than <c>keepRecords</c> behind the head, oldest first, stopping at the first failure.</summary>
    private void Prune()
    {
        long last = _headSequence - keepRecords;
        while (_oldest <= last)
        {
            try
            {
                folder.Delete(_oldest);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.LogWarning("File-share witness {Folder}: could not prune record {Sequence}: {Error}", folder.Path, _oldest, e.Message);
                return;
            }
            _oldest++;
        }
    }
}
