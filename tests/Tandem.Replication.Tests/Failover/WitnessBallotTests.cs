using Tandem.Replication.Failover;
using Tandem.Replication.Replicas;

namespace Tandem.Replication.Tests.Failover;

/// <summary>The witness's rules: one holder with a lease, never a node older than the generation it voted for.</summary>
public sealed class WitnessBallotTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);
    private const string G0 = "00000000000000a0";

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    private static WitnessRequest Ask(int node, string generation, string? next = null, IReadOnlyList<string>? history = null, bool force = false) =>
        new(node, generation, history ?? [], next ?? generation, force);

    [Fact]
    public void One_holder_at_a_time_until_its_lease_runs_out()
    {
        var ballot = new WitnessBallot(null, Lease, At(0));
        string g1 = Generation.AfterLosing(G0, 2);
        Assert.Equal(WitnessVerdict.Granted, ballot.Decide(Ask(1, G0, g1), At(1), out bool changed).Verdict);
        Assert.True(changed);
        Assert.Equal(new WitnessBallotState(1, g1, 1), ballot.State);
        // Node 2 is at the old generation: refused as stale, whatever the lease.
        Assert.Contains("older than generation", ballot.Decide(Ask(2, G0), At(2), out _).Reason);
        // A node at the holder's generation (synchronized from it) is refused while the lease runs ...
        Assert.Equal(WitnessVerdict.Refused, ballot.Decide(Ask(2, g1), At(8.9), out _).Verdict);
        // ... renewed by the holder ...
        Assert.Equal(WitnessVerdict.Granted, ballot.Decide(Ask(1, g1), At(8.9), out changed).Verdict);
        Assert.False(changed);
        Assert.Equal(WitnessVerdict.Refused, ballot.Decide(Ask(2, g1), At(16.8), out _).Verdict);
        // ... and granted once it ran out.
        Assert.Equal(WitnessVerdict.Granted, ballot.Decide(Ask(2, g1), At(17), out _).Verdict);
    }

    [Fact]
    public void A_node_whose_history_holds_the_voted_generation_is_newer_and_may_have_the_vote()
    {
        var ballot = new WitnessBallot(new WitnessBallotState(null, G0, 1), Lease, At(0));
        string newer = Generation.NewRandom();
        Assert.Equal(WitnessVerdict.Granted, ballot.Decide(Ask(2, newer, history: [G0]), At(1), out _).Verdict);
    }

    [Fact]
    public void A_holder_recorded_before_a_restart_keeps_the_vote_a_whole_lease_from_the_restart()
    {
        string g1 = Generation.AfterLosing(G0, 2);
        var restarted = new WitnessBallot(new WitnessBallotState(1, g1, 1), Lease, At(100));
        Assert.Equal(WitnessVerdict.Refused, restarted.Decide(Ask(2, g1), At(107.9), out _).Verdict);
        Assert.Equal(WitnessVerdict.Granted, restarted.Decide(Ask(2, g1), At(108.1), out _).Verdict);
    }

    [Fact]
    public void The_holder_that_crashed_before_saving_its_move_may_ask_again_for_the_same_move_and_no_other()
    {
        string g1 = Generation.AfterLosing(G0, 2);
        var ballot = new WitnessBallot(null, Lease, At(0));
        ballot.Decide(Ask(1, G0, g1), At(0), out _);
        Assert.Equal(WitnessVerdict.Granted, ballot.Decide(Ask(1, G0, g1), At(20), out _).Verdict);
        Assert.Equal(WitnessVerdict.Refused, ballot.Decide(Ask(1, G0, Generation.NewRandom()), At(40), out _).Verdict);
    }

    [Fact]
    public void Release_frees_the_vote_but_keeps_the_generation_and_force_skips_only_the_generation_check()
    {
        string g1 = Generation.AfterLosing(G0, 2);
        var ballot = new WitnessBallot(null, Lease, At(0));
        ballot.Decide(Ask(1, G0, g1), At(0), out _);
        Assert.Equal(WitnessVerdict.Refused, ballot.Decide(Ask(2, G0, force: true), At(1), out _).Verdict); // held by node 1
        ballot.Release(1, out bool changed);
        Assert.True(changed);
        Assert.Equal(WitnessVerdict.Refused, ballot.Decide(Ask(2, G0), At(2), out _).Verdict); // still stale
        Assert.Equal(WitnessVerdict.Granted, ballot.Decide(Ask(2, G0, force: true), At(2), out _).Verdict); // the administrator's choice
    }
}
