using System.Text;

namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>The campaign's counts over its trials, as the markdown bench/failover-campaign.sh puts into bench/RESULTS.md.</summary>
internal static class CampaignSummary
{
    public static string Markdown(int campaignSeed, int plannedTrials, IReadOnlyList<TrialResult> results, TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine($"{results.Count} of {plannedTrials} trials run (campaign seed {campaignSeed}; trial k has seed {campaignSeed}+k) in {elapsed.TotalMinutes:0.0} min, " +
                        $"{results.Count(r => r.Failed)} failed.");
        text.AppendLine();
        text.AppendLine("| configuration | trials | failed | acknowledged writes | required at the end | resyncs fast / full | split brains reported | node-majority violations (stale reads / both serving across a cut) | lost writes | divergent replicas |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var configuration in Enum.GetValues<TrialConfiguration>())
        {
            var of = results.Where(r => r.Plan.Configuration == configuration).ToList();
            text.AppendLine($"| {configuration} | {of.Count} | {of.Count(r => r.Failed)} | {of.Sum(r => r.Acknowledged)} | {of.Sum(r => r.RequiredWrites)} | " +
                            $"{of.Sum(r => r.FastResyncs)} / {of.Sum(r => r.FullResyncs)} | {of.Count(r => r.SplitBrainReported)} | " +
                            (configuration.IsNodeMajority() ? $"{of.Sum(r => r.StaleReads.Count)} / {of.Sum(r => r.DivergentServing.Count)}" : "n/a (allowed)") + " | " +
                            $"{of.Sum(r => r.LostWrites.Count)} | {of.Sum(r => r.DivergentReplicas.Count)} |");
        }
        text.AppendLine($"| **all** | {results.Count} | {results.Count(r => r.Failed)} | {results.Sum(r => r.Acknowledged)} | {results.Sum(r => r.RequiredWrites)} | " +
                        $"{results.Sum(r => r.FastResyncs)} / {results.Sum(r => r.FullResyncs)} | {results.Count(r => r.SplitBrainReported)} | " +
                        $"{results.Sum(r => r.Violations)} | {results.Sum(r => r.LostWrites.Count)} | {results.Sum(r => r.DivergentReplicas.Count)} |");
        text.AppendLine();
        var kinds = results.SelectMany(r => r.Plan.Faults).GroupBy(f => f.Kind).ToDictionary(g => g.Key, g => g.Count());
        text.AppendLine("Faults applied: " + string.Join(", ", Enum.GetValues<FaultKind>().Select(k => $"{k} {kinds.GetValueOrDefault(k)}")) +
                        $" ({kinds.Values.Sum()} in all). NOT READY / unit-attention retries {results.Sum(r => r.NotReady)}, session reconnects {results.Sum(r => r.Reconnects)}, " +
                        $"read checks {results.Sum(r => r.ReadChecks)}; heartbeat stale reads during total cuts (allowed) " +
                        $"{results.Where(r => !r.Plan.Configuration.IsNodeMajority()).Sum(r => r.StaleReads.Count)}.");
        var converged = results.Where(r => r.ConvergedAfter is not null).Select(r => r.ConvergedAfter!.Value.TotalSeconds).Order().ToList();
        if (converged.Count > 0)
        {
            text.AppendLine($"Convergence after the heal: median {converged[converged.Count / 2]:0.0} s, max {converged[^1]:0.0} s; " +
                            $"longest time both nodes of a pair still served after their sync link was cut: {results.Max(r => r.LongestServingAcrossCut).TotalSeconds:0.0} s; " +
                            $"trial duration median {results.Select(r => r.Duration.TotalSeconds).Order().ElementAt(results.Count / 2):0} s.");
        }
        var failed = results.Where(r => r.Failed).ToList();
        if (failed.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Failures:");
            text.AppendLine();
            foreach (var result in failed)
                text.AppendLine($"- trial {result.Index}, seed {result.Plan.Seed} ({result.Plan.Configuration}; faults: {string.Join(", ", result.Plan.Faults)}): {FirstProblem(result)}");
        }
        return text.ToString();
    }

    private static string FirstProblem(TrialResult result)
    {
        string problem = result.Failure ?? result.LostWrites.Select(l => $"{result.LostWrites.Count} lost writes, e.g. {l}").FirstOrDefault() ??
            result.DivergentReplicas.FirstOrDefault() ?? result.DivergentServing.FirstOrDefault() ??
            result.StaleReads.Select(s => $"{result.StaleReads.Count} stale reads, e.g. {s}").FirstOrDefault() ??
            (result.SplitBrainReported ? $"split brain under node majority ({result.SplitBrainNote})" : "?");
        int newline = problem.IndexOf('\n');
        return newline < 0 ? problem : problem[..newline];
    }
}
