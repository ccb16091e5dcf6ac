namespace Tandem.Replication.Failover;

/// <summary>
/// What a witness decides, kept apart from how it is reached (a witness node's API, a lease file)
/// so that every kind of witness, and the failover simulator, run the same rules:
/// <list type="bullet">
/// <item>one holder at a time: another node gets the vote only when the holder released it or its
/// lease ran out on the witness's clock;</item>
/// <item>never to a stale node: the witness remembers the generation it last voted for (the one the
/// holder moved to), and refuses a node whose generation is neither that one nor newer (that one in
/// its history). The node the witness voted for moved on without its partner, so the partner's
/// older generation proves it missed writes.</item>
/// </list>
/// Not thread-safe; the owner serializes calls. Time is a monotonic reading supplied by the owner.
/// </summary>
public sealed class WitnessBallot
{
    private readonly TimeSpan _lease;
    private TimeSpan _expires;

    /// <param name="saved">State persisted by the owner (null: a new ballot).</param>
    /// <param name="now">The owner's clock at load: a holder recorded before a restart keeps the vote a whole lease from now.</param>
    public WitnessBallot(WitnessBallotState? saved, TimeSpan lease, TimeSpan now)
    {
        _lease = lease;
        State = saved ?? WitnessBallotState.Empty;
        _expires = State.Holder is null ? TimeSpan.Zero : now + lease;
    }

    /// <summary>What the owner persists (atomically) after every change, before answering.</summary>
    public WitnessBallotState State { get; private set; }

    /// <summary>Decides a request; <paramref name="changed"/> says whether <see cref="State"/> must be saved before answering.</summary>
    public WitnessAnswer Decide(WitnessRequest request, TimeSpan now, out bool changed)
    {
        changed = false;
        var state = State;
        if (!request.Force && !IsCurrent(state, request))
        {
            return WitnessAnswer.Refused(
                $"replica {request.NodeId} is at generation {request.Generation}, older than generation {state.Generation} the witness last voted for " +
                $"(replica {state.LastHolder} continued without it); it must be synchronized first");
        }
        if (state.Holder is { } holder && holder != request.NodeId && now < _expires)
            return WitnessAnswer.Refused($"the witness votes for replica {holder}");
        var next = new WitnessBallotState(request.NodeId, request.NextGeneration, request.NodeId);
        changed = next != state;
        State = next;
        _expires = now + _lease;
        return WitnessAnswer.Granted(_lease);
    }

    /// <summary>The holder gives the vote back; its generation stays recorded.</summary>
    public void Release(int nodeId, out bool changed)
    {
        changed = State.Holder == nodeId;
        if (changed)
            State = State with { Holder = null };
    }

    private static bool IsCurrent(WitnessBallotState state, WitnessRequest request) =>
        state.Generation is null ||
        request.Generation == state.Generation ||
        request.History.Contains(state.Generation) ||
        // The holder crashed after the vote was recorded and before it saved the generation it
        // moved to: it asks again from the old one, for the same move.
        (request.NodeId == state.LastHolder && request.NextGeneration == state.Generation);
}

/// <summary>A witness's durable state for one device.</summary>
/// <param name="Holder">Replica id holding the vote, or null.</param>
/// <param name="Generation">The generation the witness last voted for (null: it never voted).</param>
/// <param name="LastHolder">Replica id that vote went to.</param>
public sealed record WitnessBallotState(int? Holder, string? Generation, int? LastHolder)
{
    public static WitnessBallotState Empty { get; } = new(null, null, null);
}
