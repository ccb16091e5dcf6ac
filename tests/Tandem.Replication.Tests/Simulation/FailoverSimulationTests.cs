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

    public static TheoryData<string> Configurations => [.. ConfigurationsByName.Keys];

    private static readonly Dictionary<string, FailoverSimulatorOptions> ConfigurationsByName = new()
    {
        ["2 nodes + witness, node majority"] = new() { NodeCount = 2, Witness = true, Strategy = FailoverStrategy.NodeMajority },
        ["3 nodes, node majority"] = new() { NodeCount = 3, Strategy = FailoverStrategy.NodeMajority },
        ["2 nodes, heartbeat"] = new() { NodeCount = 2, Strategy = FailoverStrategy.Heartbeat },
        ["3 nodes, heartbeat"] = new() { NodeCount = 3, Strategy = FailoverStrategy.Heartbeat },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
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

    /// <summary>Negative control: without the quorum check a node that lost its partners goes on alone, and some seed shows two serving nodes that do not replicate to each other.</summary>
    [Theory]
    [InlineData(2, true)]
    [InlineData(3, false)]
    public void Without_the_quorum_check_nodes_diverge(int nodes, bool witness)
    {
        var options = new FailoverSimulatorOptions { NodeCount = nodes, Witness = witness, Strategy = FailoverStrategy.NodeMajority, SkipQuorumCheck = true };
        int failed = CountFailures(options, seeds: 50, check: 1, out string? example);
        output.WriteLine($"{options}: {failed} of 50 seeds violate check 1\n{example}");
        Assert.True(failed > 0, $"No seed failed check 1 with {options}: the check did not catch a broken rule.");
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

public sealed class FailoverDebug
{
    [Fact]
    public void Dump()
    {
        if (Environment.GetEnvironmentVariable("TANDEM_SIM_DUMP") is not { } spec)
            return;
        var parts = spec.Split(',');
        var options = new FailoverSimulatorOptions
        {
            NodeCount = int.Parse(parts[1]), Witness = parts[2] == "w",
            Strategy = parts[3] == "hb" ? FailoverStrategy.Heartbeat : FailoverStrategy.NodeMajority,
            SkipQuorumCheck = parts.Contains("skipq"), SkipConfirmationWait = parts.Contains("skipc"),
        };
        int count = parts.Length > 4 && int.TryParse(parts[4], out int c) ? c : 1;
        var lines = new List<string>();
        for (int seed = int.Parse(parts[0]); seed < int.Parse(parts[0]) + count; seed++)
        {
            var sim = new FailoverSimulator(seed, options) { FullTrace = [] };
            string? failure = sim.RunAndCheck(300);
            if (failure is not null)
                lines.Add(failure.Split('\n')[0]);
            if (count == 1)
                File.WriteAllLines("/tmp/simtrace.txt", sim.FullTrace!);
        }
        File.WriteAllLines("/tmp/simscan.txt", lines);
    }
}
