namespace Tandem.Replication.Failover;

/// <summary>What a node does about a synchronized partner it lost (docs/design/failover.md).</summary>
public enum LossOutcome
{
    /// <summary>Go on without the partner (after it has surely stopped, where that can be known).</summary>
    Continue,
    /// <summary>The partner goes on: stop serving; our copy is left behind.</summary>
    Yield,
    /// <summary>No majority: stop serving; our copy stays current.</summary>
    Suspend,
    /// <summary>Node majority without a majority of data nodes: the witness's answer decides.</summary>
    AskWitness,
}

/// <summary>
/// The failover decision as pure rules over the facts a node gathers after losing a partner, so
/// that the node (<see cref="Replicas.ReplicatedDevice"/>) and the failover simulator run the
/// same code. The node asks in this order and stops at the first rule that decides.
/// </summary>
public static class FailoverRules
{
    /// <summary>
    /// A third node still reaches the lost one and sees it serving (a partial partition): both of
    /// the nodes that lost each other would keep a majority through it, so rank decides whatever
    /// the strategy, and exactly one of the two stops.
    /// </summary>
    public static LossOutcome Contested(bool outranks) => outranks ? LossOutcome.Continue : LossOutcome.Yield;

    /// <summary>
    /// Heartbeat strategy: a heartbeat that answers proves the partner alive, and the lower
    /// priority yields. With no heartbeat either, both go on (the documented split-brain risk).
    /// </summary>
    public static LossOutcome Heartbeat(bool heartbeatAnswers, bool outranks) =>
        heartbeatAnswers && !outranks ? LossOutcome.Yield : LossOutcome.Continue;

    /// <summary>Node majority before the witness: go on with more than half the votes, else the witness decides (or none: suspend).</summary>
    public static LossOutcome NodeMajority(int votesWithoutLost, int totalVotes, bool hasWitness) =>
        HasMajority(votesWithoutLost, totalVotes) ? LossOutcome.Continue
        : hasWitness ? LossOutcome.AskWitness
        : LossOutcome.Suspend;

    /// <summary>Node majority, the witness asked: its vote makes the majority.</summary>
    public static LossOutcome AfterWitness(WitnessVerdict verdict) =>
        verdict == WitnessVerdict.Granted ? LossOutcome.Continue : LossOutcome.Suspend;

    /// <summary>More than half of the votes.</summary>
    public static bool HasMajority(int votes, int totalVotes) => votes * 2 > totalVotes;
}
