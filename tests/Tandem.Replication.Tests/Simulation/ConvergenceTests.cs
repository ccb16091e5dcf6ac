namespace Tandem.Replication.Tests.Simulation;

/// <summary>
/// Random overlapping workloads through the real write ordering converge on every replica, and the
/// simulator's checks do catch a broken protocol. Seeds start at <c>TANDEM_SIM_SEED</c> (default 1),
/// so CI can explore other seeds and a failure message's seed reproduces it as the first one run.
/// </summary>
public sealed class ConvergenceTests
{
    private const int Seeds = 300;
    private const int Steps = 2000;

    private static int BaseSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("TANDEM_SIM_SEED"), out int seed) ? seed : 1;

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    public void Random_overlapping_writes_converge(int nodes, bool deferredSend)
    {
        var options = new SimulatorOptions { NodeCount = nodes, DeferredSend = deferredSend };
        for (int i = 0; i < Seeds; i++)
        {
            string? failure = ReplicationSimulator.RunAndCheck(unchecked(BaseSeed + i), options, Steps);
            Assert.True(failure is null, failure);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Without_the_stamp_map_replicas_diverge(int nodes) =>
        AssertSomeSeedFails(new SimulatorOptions { NodeCount = nodes, DisableStampMap = true }, seeds: 50);

    /// <summary>A heartbeat (or reply) sent between stamping a write and sending it must not carry a clock
    /// at or above that write's stamp: the receiver would forget entries the write then overtakes.</summary>
    [Fact]
    public void Carrying_the_clock_past_an_unsent_write_diverges() =>
        AssertSomeSeedFails(new SimulatorOptions { NodeCount = 3, DeferredSend = true, CarryRawClock = true }, seeds: 300);

    [Fact]
    public void Forgetting_on_the_writers_acknowledgement_diverges_with_three_nodes() =>
        AssertSomeSeedFails(new SimulatorOptions { NodeCount = 3, ForgetOnCompletion = true }, seeds: 300);

    /// <summary>
    /// Node 1 writes block 0 (stamp 1@1), node 2 overwrites it (1@2, newer). Node 2's write reaches
    /// nodes 3 and 1 and completes while node 1's older write is still on its way to node 3. If node 3
    /// forgot 1@2 on the writer's say-so, the late 1@1 would overwrite it there only. With watermarks,
    /// node 3 keeps the entry until node 1's clock arrives — behind 1@1 on the same FIFO link.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_third_nodes_late_older_write_cannot_overwrite_a_newer_block(bool forgetOnCompletion)
    {
        var sim = new ReplicationSimulator(seed: 0, new SimulatorOptions { NodeCount = 3, ForgetOnCompletion = forgetOnCompletion });
        int older = sim.Issue(1, 0, 1);
        int newer = sim.Issue(2, 0, 1);
        Assert.True(sim.StampOf(newer) > sim.StampOf(older));

        Assert.True(sim.Deliver(2, 3));     // node 3 applies the newer write
        Assert.True(sim.Deliver(2, 1));     // node 1 applies it over its own older one
        Assert.True(sim.Deliver(3, 2));     // APPLIED from 3
        Assert.True(sim.Deliver(1, 2));     // node 1's older write reaches node 2: skipped there
        Assert.True(sim.Deliver(1, 2));     // APPLIED from 1
        Assert.True(sim.IsCompleted(newer));
        Assert.Equal(newer, sim.BlockOf(2, 0));

        // Node 2 keeps talking to node 3; node 1 has not been heard from by node 3 since before its write.
        sim.Heartbeat(2, 3);
        while (sim.Deliver(2, 3)) { }       // the heartbeat, and in the broken variant the FORGET
        Assert.Equal(forgetOnCompletion ? 0 : 1, sim.Ordering(3).InFlightEntries);

        Assert.True(sim.Deliver(1, 3));     // the late older write
        Assert.Equal(forgetOnCompletion ? older : newer, sim.BlockOf(3, 0));

        sim.Quiesce();
        if (forgetOnCompletion)
        {
            var failure = Assert.Throws<SimulationFailedException>(sim.CheckConverged);
            Assert.Contains("replicas differ at block 0", failure.Message);
        }
        else
        {
            sim.CheckConverged();
            for (int node = 1; node <= 3; node++)
                Assert.Equal(newer, sim.BlockOf(node, 0));
        }
    }

    private static void AssertSomeSeedFails(SimulatorOptions options, int seeds)
    {
        for (int i = 0; i < seeds; i++)
        {
            if (ReplicationSimulator.RunAndCheck(unchecked(BaseSeed + i), options, Steps) is not null)
                return;
        }
        Assert.Fail($"No seed in {BaseSeed}..{BaseSeed + seeds - 1} failed with {options}: the checks did not catch a broken protocol.");
    }
}
