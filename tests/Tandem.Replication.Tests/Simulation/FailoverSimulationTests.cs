using Tandem.Replication.Failover;
using Xunit.Abstractions;

namespace Tandem.Replication.Tests.Simulation;

/// <summary>
/// Random faults (cut and healed link directions, total cuts of a pair, killed and restarted nodes)
/// under client I/O, through the real failover rules, with the checks of <see cref="FailoverSimulator"/>.
/// Seeds start at <c>TANDEM_SIM_SEED</c> (default 1), so CI can explore other seeds and a failure
/// message's seed reproduces it as the first one run.
/// </summary>
public sealed class FailoverSimulationTests(ITestOutputHelper output)
{
    private const int Seeds = 200;
    private const int Steps = 300;

    private static int BaseSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("TANDEM_SIM_SEED"), out int seed) ? seed : 1;

    private static readonly Dictionary<string, FailoverSimulatorOptions> ConfigurationsByName = new()
    {
        ["2 nodes + witness, node majority"] = new() { NodeCount = 2, Witness = true, Strategy = FailoverStrategy.NodeMajority },
        ["3 nodes, node majority"] = new() { NodeCount = 3, Strategy = FailoverStrategy.NodeMajority },
        ["2 nodes, heartbeat"] = new() { NodeCount = 2, Strategy = FailoverStrategy.Heartbeat },
        ["3 nodes, heartbeat"] = new() { NodeCount = 3, Strategy = FailoverStrategy.Heartbeat },
    };

    // Each configuration fails through real flaws (the Real_flaw_* tests below); counts are over seeds 1-200.
    private const string WitnessFlaws =
        "Real flaws: 38 of 200 seeds fail (check 1: 12, check 2: 8, check 3: 2, check 4: 9, check 5: 4), e.g. Real_flaw_a_restarted_node_with_suspects_serves_without_a_majority.";

    private const string ThreeWayMajorityFlaws =
        "Real flaws: 186 of 200 seeds fail (check 1: 166, check 2: 17, check 3: 11, livelock: 5, check 5: 1): Real_flaw_three_way_a_node_goes_on_alone_without_an_absent_partner_its_partner_still_has, Real_flaw_adopting_a_loss_while_keeping_writes_loops_forever.";

    private const string TwoWayHeartbeatFlaws =
        "Real flaws: 9 of 200 seeds fail check 3: Real_flaw_heartbeat_yields_to_a_partner_whose_sync_never_ended, Real_flaw_heartbeat_a_node_that_went_on_alone_obeys_a_later_fence, Real_flaw_a_node_that_never_served_records_its_partner_behind_and_serves_alone_after_a_restart.";

    private const string ThreeWayHeartbeatFlaws =
        "Real flaw: 3 of 200 seeds (51, 132, 178) loop forever: Real_flaw_adopting_a_loss_while_keeping_writes_loops_forever.";

    [Theory]
    [InlineData("2 nodes + witness, node majority", Skip = WitnessFlaws)]
    [InlineData("3 nodes, node majority", Skip = ThreeWayMajorityFlaws)]
    [InlineData("2 nodes, heartbeat", Skip = TwoWayHeartbeatFlaws)]
    [InlineData("3 nodes, heartbeat", Skip = ThreeWayHeartbeatFlaws)]
    public void Random_faults_keep_the_failover_checks(string configuration)
    {
        var options = ConfigurationsByName[configuration];
        int resyncs = 0, splitBrains = 0, totalCuts = 0, acknowledged = 0;
        for (int i = 0; i < Seeds; i++)
        {
            var simulator = new FailoverSimulator(unchecked(BaseSeed + i), options);
            string? failure = simulator.RunAndCheck(Steps);
            Assert.True(failure is null, failure);
            resyncs += simulator.Resyncs;
            splitBrains += simulator.SplitBrainsReported > 0 ? 1 : 0;
            totalCuts += simulator.HeartbeatTotalCut ? 1 : 0;
            acknowledged += simulator.AcknowledgedWrites;
        }
        output.WriteLine($"{configuration}: {Seeds} seeds from {BaseSeed}, {acknowledged} acknowledged writes, {resyncs} resyncs, " +
            $"{totalCuts} seeds with a heartbeat total cut, {splitBrains} with a reported split brain");
    }

    [Fact]
    public void The_same_seed_gives_the_same_run()
    {
        var options = ConfigurationsByName["2 nodes + witness, node majority"];
        var first = new FailoverSimulator(BaseSeed, options);
        var second = new FailoverSimulator(BaseSeed, options);
        Assert.Equal(first.RunAndCheck(Steps), second.RunAndCheck(Steps));
        Assert.Equal(first.TraceText, second.TraceText);
        Assert.Equal(first.AcknowledgedWrites, second.AcknowledgedWrites);
    }

    /// <summary>Negative control: without the quorum check a node that lost its partner goes on alone, and some seed shows two serving nodes that do not replicate to each other.</summary>
    [Fact]
    public void Without_the_quorum_check_nodes_diverge()
    {
        var options = ConfigurationsByName["2 nodes + witness, node majority"] with { SkipQuorumCheck = true };
        int failed = CountFailures(options, seeds: 50, check: 1, out string? example);
        output.WriteLine($"{options}: {failed} of 50 seeds violate check 1\n{example}");
        Assert.True(failed > 0, $"No seed failed check 1 with {options}: the check did not catch a broken rule.");
    }

    /// <summary>Negative control: without the confirmation wait the winner acknowledges writes while the loser still serves reads (check 1 off, so that the stale read itself is seen).</summary>
    [Fact]
    public void Without_the_confirmation_wait_reads_are_stale()
    {
        var options = ConfigurationsByName["2 nodes + witness, node majority"] with { SkipConfirmationWait = true, CheckDivergentServers = false };
        int failed = CountFailures(options, seeds: 100, check: 2, out string? example);
        output.WriteLine($"{options}: {failed} of 100 seeds violate check 2\n{example}");
        Assert.True(failed > 0, $"No seed failed check 2 with {options}: the check did not catch a broken rule.");
    }

    /// <summary>
    /// Regression (flaw "three-way pairing with one partner"): a three-way node served as soon as it
    /// paired with one partner and completed writes without the other, whose same-generation pairing
    /// then cleared its bitmap; every seed failed check 1 at start-up. PairSynchronized now waits for
    /// the other partner (StartsServingWith) for the start-up grace.
    /// </summary>
    [Fact]
    public void Three_way_start_up_pairs_with_both_partners_before_serving()
    {
        foreach (string configuration in new[] { "3 nodes, node majority", "3 nodes, heartbeat" })
        {
            for (int seed = 1; seed <= 50; seed++)
            {
                string? failure = FailoverSimulator.RunAndCheck(seed, ConfigurationsByName[configuration], steps: 0);
                Assert.True(failure is null, failure);
            }
        }
    }

    /// <summary>
    /// Regression (flaw "lost sync-end reply"): the source recorded its target synchronized only on the
    /// reply, so losing the reply let it complete writes alone while the target went on too. Seed 8.
    /// RunSyncAsync now records the target synchronized before sync-end leaves.
    /// </summary>
    [Fact]
    public void A_lost_sync_end_reply_goes_through_the_failover_decision()
    {
        string? failure = FailoverSimulator.RunAndCheck(8, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Regression (suspected flaw "yielded node resynchronized by another", three-way heartbeat seed 22):
    /// the simulator did not model the sync-begin refusals (one source at a time; none but the node it
    /// yielded to while that one's link is down). With them the seed passes.
    /// </summary>
    [Fact]
    public void A_yielded_node_is_resynchronized_only_by_the_node_it_yielded_to()
    {
        string? failure = FailoverSimulator.RunAndCheck(22, ConfigurationsByName["3 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Heartbeat, two nodes. Node 2 resynchronizes node 1 and, since the sync-end fix, records it
    /// synchronized before sync-end leaves; the link is cut both ways before sync-end arrives (node 1
    /// abandons the sync: not synchronized). Node 2 loses the link, decides about a partner it records
    /// synchronized: the heartbeat answers and node 1 outranks it, so FailoverRules.Heartbeat says
    /// Yield and node 2 stops (ReplicatedDevice.Failover.cs, DecideAsync, the heartbeat branch). Now
    /// neither node holds synchronized data: no node serves again without an administrator, and the
    /// writes node 2 acknowledged alone are on no current copy (check 3). Seed 14 (also seed 91).
    /// </summary>
    [Fact(Skip = "Real flaw: the heartbeat strategy yields to a partner that is not synchronized (its sync-end never arrived): both copies end not synchronized.")]
    public void Real_flaw_heartbeat_yields_to_a_partner_whose_sync_never_ended()
    {
        string? failure = FailoverSimulator.RunAndCheck(14, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Heartbeat, two nodes. Node 2 loses every channel to node 1 (sync and heartbeat), goes on alone
    /// (split-brain risk) at AfterLosing(g, 1) and acknowledges W5. Node 1 then loses its sync link too,
    /// but its heartbeat probe is answered; it outranks node 2, so it fences it. Node 2 obeys the fence
    /// (OnFenced → YieldToAsync, ReplicatedDevice.Heartbeat.cs) although it already went on without
    /// node 1: it becomes stale and is resynchronized from node 1, W5 is gone, and no split brain is
    /// reported (check 3). Seed 176 (also 45, 50, 68, 69, 94, 161 through the same kind of race).
    /// </summary>
    [Fact(Skip = "Real flaw: a node that went on alone after losing every channel obeys a later fence and silently drops its acknowledged writes.")]
    public void Real_flaw_heartbeat_a_node_that_went_on_alone_obeys_a_later_fence()
    {
        string? failure = FailoverSimulator.RunAndCheck(176, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Heartbeat, two nodes. Node 2 restarts synchronized at the old generation g while node 1 went on
    /// without it (AfterLosing(g, 2)); it does not serve (its partner is recorded synchronized). When
    /// its sync link goes down, RecordLossAsync takes the else branch (not serving) and records node 1
    /// not synchronized, with no new generation (ReplicatedDevice.State.cs, RecordLossAsync, else
    /// branch). Killed and restarted, node 2 now looks like a survivor to the constructor's rule
    /// (synchronized, every partner recorded behind: serve at once) and acknowledges W105 alone at g.
    /// On reconnect node 1's generation is newer, node 2 is resynchronized and W105 is gone (check 3).
    /// Seed 45.
    /// </summary>
    [Fact(Skip = "Real flaw: a node that never served records its lost partner as behind; after a restart it serves alone at the old generation.")]
    public void Real_flaw_a_node_that_never_served_records_its_partner_behind_and_serves_alone_after_a_restart()
    {
        string? failure = FailoverSimulator.RunAndCheck(45, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Two nodes and a witness. Node 1 crashes; node 2 decides about it (the witness grants, it waits
    /// for node 1 to have surely stopped). Node 1 restarts with suspects and sees node 2 at the same
    /// generation: the suspects branch of OnPeerStatus makes the lower id the source and sets
    /// _serving = true at once (ReplicatedDevice.State.cs, "if (!_serving) { _serving = true; ...}"),
    /// with no majority and no partner receiving its writes. Node 2, serving, refuses the sync
    /// (NotReady); meanwhile node 1 acknowledges W64 alone, then the witness refuses it. Node 2 goes on,
    /// the witness grants node 2, which lacks W64 (check 4). Seed 43 (also 10, 13, 44, 70, 142, ...).
    /// </summary>
    [Fact(Skip = "Real flaw: a restarted node with suspects starts serving as the sync source without a majority, and completes writes alone.")]
    public void Real_flaw_a_restarted_node_with_suspects_serves_without_a_majority()
    {
        string? failure = FailoverSimulator.RunAndCheck(43, ConfigurationsByName["2 nodes + witness, node majority"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Three nodes, node majority. Node 1, suspended (1 of 3 votes), still completes a resync of
    /// restarted node 2 that it began while it served (RunSyncAsync never looks at _serving). Node 2
    /// pairs with node 1 after the start-up grace, node 3 not yet paired: PairSynchronized records
    /// node 3's loss as decided (RecordLossAsync(absent, decided: true) → ContinueWithoutAsync) and moves
    /// alone to AfterLosing(g, 3), while node 1 stays at g and still records node 3 synchronized. Node 3
    /// is then resynchronized by node 2 and serves at the new generation, node 1 serves at g: two
    /// serving nodes that do not replicate to each other (check 1). Seed 1 (most of the 166 seeds).
    /// </summary>
    [Fact(Skip = "Real flaw: a three-way node that pairs with one partner after the grace records the other's loss on its own, a generation its partner does not share.")]
    public void Real_flaw_three_way_a_node_goes_on_alone_without_an_absent_partner_its_partner_still_has()
    {
        string? failure = FailoverSimulator.RunAndCheck(1, ConfigurationsByName["3 nodes, node majority"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Three nodes (node majority seed 20, heartbeat seed 51). A partner announces the loss of X one
    /// step from our generation, and X announces itself not serving and not synchronized: OnPeerStatus
    /// adopts with keepSending. ContinueWithoutAsync(X, keepSending: true) changes nothing when this
    /// node does not serve or does not send X writes (its condition "lost.ReceivesWrites == keepSending
    /// &amp;&amp; _serving"), and the continuation runs OnPeerStatus again on the same status, which adopts
    /// again: an endless loop at one instant (a thread-pool spin on the real node).
    /// </summary>
    [Fact(Skip = "Real flaw: adopting a resolved partial partition (keepSending) on a node that does not serve or does not send the lost node writes loops forever.")]
    public void Real_flaw_adopting_a_loss_while_keeping_writes_loops_forever()
    {
        string? failure = FailoverSimulator.RunAndCheck(20, ConfigurationsByName["3 nodes, node majority"], Steps);
        Assert.True(failure is null, failure);
        failure = FailoverSimulator.RunAndCheck(51, ConfigurationsByName["3 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    private static int CountFailures(FailoverSimulatorOptions options, int seeds, int check, out string? example)
    {
        int failed = 0;
        example = null;
        for (int i = 0; i < seeds; i++)
        {
            string? failure = FailoverSimulator.RunAndCheck(unchecked(BaseSeed + i), options, Steps);
            if (failure is not null && failure.Contains($"failed check {check} ", StringComparison.Ordinal))
            {
                failed++;
                example ??= failure;
            }
        }
        return failed;
    }
}
