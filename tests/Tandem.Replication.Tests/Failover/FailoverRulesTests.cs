using Tandem.Replication.Failover;
using Tandem.Storage;

namespace Tandem.Replication.Tests.Failover;

/// <summary>The pure failover rules the node and the simulator share (docs/design/failover.md).</summary>
public sealed class FailoverRulesTests
{
    private static ReplicaNodeHeader Node(int id, int priority) => new()
    {
        NodeId = id,
        Api = $"127.0.0.{id}:3261",
        SyncChannels = [$"127.0.0.{id}:3262"],
        Priority = priority,
        State = "synchronized",
    };

    [Theory]
    [InlineData(1, 1, 2, 2, true)]   // lower priority number wins
    [InlineData(2, 5, 1, 6, true)]
    [InlineData(1, 3, 2, 1, false)]
    [InlineData(1, 2, 2, 2, true)]   // a tie: the lower replica id
    [InlineData(3, 2, 2, 2, false)]
    public void Exactly_one_of_two_nodes_outranks_the_other(int idA, int prioA, int idB, int prioB, bool aWins)
    {
        var a = Node(idA, prioA);
        var b = Node(idB, prioB);
        Assert.Equal(aWins, FailoverStrategyText.Outranks(a, b));
        Assert.Equal(!aWins, FailoverStrategyText.Outranks(b, a));
    }

    [Theory]
    [InlineData(true, true, LossOutcome.Continue)]
    [InlineData(true, false, LossOutcome.Yield)]
    [InlineData(false, true, LossOutcome.Continue)]
    [InlineData(false, false, LossOutcome.Continue)] // every channel lost: both go on (the documented split-brain risk)
    public void Heartbeat_the_lower_rank_yields_only_to_a_partner_whose_heartbeat_answers(bool answers, bool outranks, LossOutcome expected) =>
        Assert.Equal(expected, FailoverRules.Heartbeat(answers, outranks));

    [Theory]
    [InlineData(2, 3, true, LossOutcome.Continue)]   // three data nodes, one lost
    [InlineData(1, 3, false, LossOutcome.Suspend)]   // three data nodes, isolated
    [InlineData(1, 3, true, LossOutcome.AskWitness)] // two data nodes and a witness
    [InlineData(1, 2, false, LossOutcome.Suspend)]   // two data nodes, no witness
    [InlineData(2, 4, false, LossOutcome.Suspend)]   // exactly half is not a majority
    public void Node_majority_goes_on_only_with_more_than_half_of_the_votes(int votes, int total, bool witness, LossOutcome expected) =>
        Assert.Equal(expected, FailoverRules.NodeMajority(votes, total, witness));

    [Theory]
    [InlineData(WitnessVerdict.Granted, LossOutcome.Continue)]
    [InlineData(WitnessVerdict.Refused, LossOutcome.Suspend)]
    [InlineData(WitnessVerdict.Unreachable, LossOutcome.Suspend)]
    public void The_witness_vote_makes_the_majority(WitnessVerdict verdict, LossOutcome expected) =>
        Assert.Equal(expected, FailoverRules.AfterWitness(verdict));

    [Fact]
    public void A_partial_partition_is_decided_by_rank() =>
        Assert.Equal((LossOutcome.Continue, LossOutcome.Yield), (FailoverRules.Contested(true), FailoverRules.Contested(false)));
}
