namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>Which data nodes said they serve (<c>failover.serving</c>), asked between <see cref="Sent"/> and <see cref="Answered"/>.</summary>
public sealed record ServingSample(DateTime Sent, DateTime Answered, IReadOnlySet<int> Serving);

/// <summary>
/// When each fault of a trial was in force (applied: once its <c>ip</c> command had returned;
/// undone: when its undo command was about to run), and the serving samples of the fault phase;
/// from them, the moments two node-majority nodes served while the sync link between them was cut.
/// </summary>
/// <remarks>
/// A cut is not noticed at once, and the sample and the cut are not atomic: until the link times
/// out both nodes still say they serve. That is safe: neither completes a write the other lacks
/// (a write waits for the partner's reply, or for the partner to have surely stopped: one link
/// timeout plus a heartbeat interval after the link went down, docs/design/failover.md), so both
/// still hold every acknowledged write. The loser stops at the latest one link timeout after the
/// last frame it received. So two nodes serving count as a violation only in a sample sent more
/// than <see cref="Grace"/> (link timeout + heartbeat interval + one sample period + 0.5 s of
/// scheduling slack on a loaded machine) after the sync link between them was cut, and answered
/// at least one sample period before it healed. Reads are checked besides (<see cref="StaleRead"/>),
/// with no grace at all: they catch divergent data actually served.
/// </remarks>
public sealed class ServingTimeline(TimeSpan grace)
{
    private readonly object _lock = new();
    private readonly List<(Fault Fault, DateTime From, DateTime? To)> _inForce = [];
    private readonly List<ServingSample> _samples = [];

    public TimeSpan Grace { get; } = grace;

    public static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(250);

    public IReadOnlyList<ServingSample> Samples { get { lock (_lock) return [.. _samples]; } }

    public void Applied(Fault fault)
    {
        lock (_lock)
            _inForce.Add((fault, DateTime.UtcNow, null));
    }

    public void Undoing(Fault fault)
    {
        lock (_lock)
        {
            int index = _inForce.FindIndex(f => f.Fault == fault && f.To is null);
            if (index >= 0)
                _inForce[index] = _inForce[index] with { To = DateTime.UtcNow };
        }
    }

    public void Add(ServingSample sample)
    {
        lock (_lock)
            _samples.Add(sample);
    }

    /// <summary>The intervals (merged) during which the sync link between <paramref name="a"/> and <paramref name="b"/> was cut in at least one direction.</summary>
    public IReadOnlyList<(DateTime From, DateTime To)> SyncCut(int a, int b) => Merged(f => f.CutsSyncBetween(a, b));

    /// <summary>The first moment both the sync and the heartbeat link between the two were cut (in some direction each), or null.</summary>
    public DateTime? FirstTotalCut(int a, int b)
    {
        var sync = SyncCut(a, b);
        var heartbeat = Merged(f => f.CutsHeartbeatBetween(a, b));
        DateTime? first = null;
        foreach (var s in sync)
        {
            foreach (var h in heartbeat)
            {
                var from = s.From > h.From ? s.From : h.From;
                var to = s.To < h.To ? s.To : h.To;
                if (from < to && (first is null || from < first))
                    first = from;
            }
        }
        return first;
    }

    private List<(DateTime From, DateTime To)> Merged(Func<Fault, bool> cuts)
    {
        List<(DateTime From, DateTime To)> intervals;
        lock (_lock)
            intervals = [.. _inForce.Where(f => cuts(f.Fault)).Select(f => (f.From, f.To ?? DateTime.MaxValue)).OrderBy(i => i.From)];
        var merged = new List<(DateTime From, DateTime To)>();
        foreach (var interval in intervals)
        {
            if (merged.Count > 0 && interval.From <= merged[^1].To)
                merged[^1] = (merged[^1].From, interval.To > merged[^1].To ? interval.To : merged[^1].To);
            else
                merged.Add(interval);
        }
        return merged;
    }

    /// <summary>Samples in which two nodes served while the sync link between them had been cut for longer than the grace.</summary>
    public IReadOnlyList<string> DivergentServing(int dataNodes)
    {
        var found = new List<string>();
        foreach (var (a, b) in from a in Enumerable.Range(1, dataNodes) from b in Enumerable.Range(1, dataNodes) where a < b select (a, b))
        {
            foreach (var (from, to) in SyncCut(a, b))
            {
                var both = Samples.Where(s => s.Serving.Contains(a) && s.Serving.Contains(b) &&
                    s.Sent > from + Grace && s.Answered < (to == DateTime.MaxValue ? to : to - SamplePeriod)).ToList();
                if (both.Count > 0)
                {
                    found.Add($"nodes {a} and {b} both served in {both.Count} samples from {both[0].Sent:HH:mm:ss.fff} to {both[^1].Answered:HH:mm:ss.fff} " +
                              $"while the sync link between them was cut (since {from:HH:mm:ss.fff}{(to == DateTime.MaxValue ? "" : $", healed {to:HH:mm:ss.fff}")})");
                }
            }
        }
        return found;
    }

    /// <summary>The longest run of samples (first sent to last answered) in which two nodes served across a cut sync link, grace included.</summary>
    public TimeSpan LongestOverlap(int dataNodes)
    {
        var longest = TimeSpan.Zero;
        foreach (var (a, b) in from a in Enumerable.Range(1, dataNodes) from b in Enumerable.Range(1, dataNodes) where a < b select (a, b))
        {
            foreach (var (from, to) in SyncCut(a, b))
            {
                var both = Samples.Where(s => s.Sent >= from && s.Answered <= to && s.Serving.Contains(a) && s.Serving.Contains(b)).ToList();
                if (both.Count > 0 && both[^1].Answered - from > longest)
                    longest = both[^1].Answered - from;
            }
        }
        return longest;
    }
}
