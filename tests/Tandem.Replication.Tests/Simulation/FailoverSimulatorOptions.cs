using Tandem.Replication.Failover;
using Tandem.Replication.Links;

namespace Tandem.Replication.Tests.Simulation;

/// <summary>Shape of a simulated failover run, and switches that break the failover rules on purpose
/// (to prove the checks can fail).</summary>
internal sealed record FailoverSimulatorOptions
{
    /// <summary>Data nodes: 2 or 3.</summary>
    public int NodeCount { get; init; } = 2;

    public FailoverStrategy Strategy { get; init; } = FailoverStrategy.NodeMajority;

    /// <summary>A witness (with the real <see cref="WitnessBallot"/>) as third vote; only for two nodes under node majority.</summary>
    public bool Witness { get; init; }

    public LinkTimings Timings { get; init; } = LinkTimings.Default;

    public TimeSpan Lease { get; init; } = WitnessLease.Default;

    /// <summary>How long a node waits for the witness's answer before it counts it as unreachable (its own clock).</summary>
    public TimeSpan WitnessRequestTimeout { get; init; } = FailoverTimings.ProbeTimeout(LinkTimings.Default);

    /// <summary>Message delay on any link direction, 1 ms to this (uniform).</summary>
    public int MaxDelayMs { get; init; } = 200;

    /// <summary>Each node's and the witness's clock runs at a rate within 1 ± this.</summary>
    public double MaxRateSkew { get; init; } = 0.01;

    /// <summary>Broken on purpose: node majority treats "no majority" as Continue (goes on alone), and
    /// the quorum monitor never suspends.</summary>
    public bool SkipQuorumCheck { get; init; }

    /// <summary>Broken on purpose: a node that goes on without a partner does not wait for it to have
    /// surely stopped (no fence, no partner report, no <see cref="FailoverTimings.PartnerSurelyBlocked"/> wait).</summary>
    public bool SkipConfirmationWait { get; init; }

    /// <summary>Check 1 at every instant (off: let a run go on to show what clients would see, check 2).</summary>
    public bool CheckDivergentServers { get; init; } = true;

    public override string ToString()
    {
        var flags = new List<string>();
        if (SkipQuorumCheck) flags.Add(nameof(SkipQuorumCheck));
        if (SkipConfirmationWait) flags.Add(nameof(SkipConfirmationWait));
        return $"nodes={NodeCount}{(Witness ? "+witness" : "")} {Strategy.ToText()} lease={Lease.TotalSeconds:0.#}s delay<={MaxDelayMs}ms skew<={MaxRateSkew:P1}" +
            (flags.Count > 0 ? " " + string.Join(' ', flags) : "");
    }
}
