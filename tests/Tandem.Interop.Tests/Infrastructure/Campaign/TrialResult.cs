namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>What one trial did and found.</summary>
public sealed class TrialResult(int index, TrialPlan plan)
{
    public int Index { get; } = index;
    public TrialPlan Plan { get; } = plan;
    public TimeSpan Duration { get; set; }
    public int Acknowledged { get; set; }
    public int NotReady { get; set; }
    public int Reconnects { get; set; }
    public int ReadChecks { get; set; }
    public int FastResyncs { get; set; }
    public int FullResyncs { get; set; }
    public bool SplitBrainReported { get; set; }
    public string? SplitBrainNote { get; set; }
    public TimeSpan? ConvergedAfter { get; set; }
    public TimeSpan LongestServingAcrossCut { get; set; }
    public List<StaleRead> StaleReads { get; } = [];
    public List<string> DivergentServing { get; } = [];
    public List<string> LostWrites { get; } = [];
    public int RequiredWrites { get; set; }
    public List<string> DivergentReplicas { get; } = [];
    public List<string> UnexpectedErrors { get; } = [];

    /// <summary>Set when the trial could not run to its end (a node that never recovered, a setup failure).</summary>
    public string? Failure { get; set; }

    /// <summary>Where the node logs of a failed trial were saved, if anywhere.</summary>
    public string? LogDirectory { get; set; }

    private bool NodeMajority => Plan.Configuration.IsNodeMajority();

    /// <summary>Stale reads and divergent serving are violations under node majority (under heartbeat, a total cut allows both).</summary>
    public int Violations => NodeMajority ? StaleReads.Count + DivergentServing.Count + (SplitBrainReported ? 1 : 0) : 0;

    public bool Failed => Failure is not null || LostWrites.Count > 0 || DivergentReplicas.Count > 0 || Violations > 0;

    public string Describe()
    {
        var lines = new List<string>
        {
            $"trial {Index} (seed {Plan.Seed}, {Plan.Configuration}): {(Failed ? "FAILED" : "ok")} in {Duration.TotalSeconds:0} s; " +
            $"{Acknowledged} acknowledged writes ({RequiredWrites} required at the end), {NotReady} NOT READY/UA retries, {Reconnects} reconnects, {ReadChecks} read checks; " +
            $"resyncs {FastResyncs} fast / {FullResyncs} full; converged {(ConvergedAfter is { } c ? $"after {c.TotalSeconds:0.0} s" : "never")}; " +
            $"both served across a cut sync link up to {LongestServingAcrossCut.TotalSeconds:0.0} s after it" +
            (SplitBrainReported ? $"; split brain reported{(SplitBrainNote is null ? "" : $" ({SplitBrainNote})")}" : ""),
        };
        if (Failure is not null)
            lines.Add($"  failure: {Failure}");
        lines.AddRange(LostWrites.Take(10).Select(l => $"  LOST: {l}"));
        lines.AddRange(DivergentReplicas.Select(d => $"  DIVERGENT: {d}"));
        lines.AddRange(DivergentServing.Select(d => $"  {(NodeMajority ? "VIOLATION" : "(heartbeat, allowed)")}: {d}"));
        lines.AddRange(StaleReads.Take(10).Select(s => $"  {(NodeMajority ? "VIOLATION stale read" : "(heartbeat, allowed) stale read")}: {s}"));
        if (StaleReads.Count > 10)
            lines.Add($"  ... {StaleReads.Count - 10} more stale reads");
        lines.AddRange(UnexpectedErrors.Take(5).Select(e => $"  unexpected: {e}"));
        if (LogDirectory is not null)
            lines.Add($"  node logs: {LogDirectory}");
        if (Failed)
            lines.Add($"  replay: TANDEM_CAMPAIGN_SEED={Plan.Seed} TANDEM_CAMPAIGN_TRIALS=1");
        return string.Join("\n", lines);
    }
}
