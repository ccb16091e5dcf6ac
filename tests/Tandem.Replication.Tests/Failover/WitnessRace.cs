using System.Diagnostics;
using Tandem.Replication.Failover;

namespace Tandem.Replication.Tests.Failover;

/// <summary>
/// Two data nodes contending for one file-share witness, each on its own witness instance, and
/// what each one trusted: from when a Granted answer arrived (a node cannot act on a vote before)
/// to the start of that request + ¾ lease, on the one monotonic clock of this process. The guarantee under test: windows of different nodes
/// never overlap, however the threads are scheduled.
/// </summary>
internal static class WitnessRace
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public sealed record Window(int Node, TimeSpan From, TimeSpan To);

    /// <summary>Both nodes ask for a free vote at the same instant, <paramref name="rounds"/> times (a fresh folder each round).</summary>
    public static async Task<int> RaceForFreeVoteAsync(string? parent, int rounds)
    {
        int granted = 0;
        for (int round = 0; round < rounds; round++)
        {
            using var share = new WitnessShare(parent);
            await using var first = share.Open();
            await using var second = share.Open();
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var asks = new[] { (first, 1), (second, 2) }
                .Select(pair => Task.Run(async () => { await start.Task; return await WitnessShare.VoteAsync(pair.Item1, pair.Item2, "g1"); }))
                .ToArray();
            start.SetResult();
            var answers = await Task.WhenAll(asks);
            int wins = answers.Count(a => a.Verdict == WitnessVerdict.Granted);
            if (wins != 1)
                throw new Xunit.Sdk.XunitException($"round {round}: {wins} nodes granted ({string.Join("; ", answers.Select(a => a.Reason))})");
            granted += wins;
        }
        return granted;
    }

    /// <summary>
    /// For <paramref name="duration"/>, each node asks often; a holder renews a few times then goes
    /// quiet for about a lease or two (sometimes less), so the vote keeps expiring while the
    /// other node is asking, and the quiet holder comes back racing it. Returns every trusted window.
    /// </summary>
    public static async Task<List<Window>> RaceForExpiringVoteAsync(WitnessShare share, TimeSpan duration, int seed)
    {
        var windows = new List<Window>();
        await using var first = share.Open();
        await using var second = share.Open();
        TimeSpan end = Clock.Elapsed + duration;
        await Task.WhenAll(
            Task.Run(() => NodeAsync(first, 1, end, new Random(seed), windows)),
            Task.Run(() => NodeAsync(second, 2, end, new Random(seed + 1), windows)));
        return windows;
    }

    private static async Task NodeAsync(IWitness witness, int node, TimeSpan end, Random random, List<Window> windows)
    {
        TimeSpan lease = WitnessShare.Lease;
        int renewalsLeft = 0;
        while (Clock.Elapsed < end)
        {
            TimeSpan start = Clock.Elapsed;
            var answer = await WitnessShare.VoteAsync(witness, node, "g1");
            if (answer.Verdict == WitnessVerdict.Granted)
            {
                TimeSpan arrived = Clock.Elapsed, until = start + answer.Lease * WitnessLease.TrustedFraction;
                if (arrived < until)
                {
                    lock (windows)
                        windows.Add(new Window(node, arrived, until));
                }
                renewalsLeft = renewalsLeft > 0 ? renewalsLeft - 1 : random.Next(2, 6);
                if (renewalsLeft == 0)
                {
                    // Quiet for 0.8 to 2.4 leases: sometimes back before the other node may take
                    // over, sometimes just as it does, sometimes well after.
                    await Task.Delay(lease * (0.8 + random.NextDouble() * 1.6));
                    continue;
                }
                await Task.Delay(lease / WitnessLease.RenewalsPerLease);
            }
            else
            {
                await Task.Delay(lease / 8 * random.NextDouble());
            }
        }
    }

    /// <summary>Throws if two nodes' windows overlap; returns how often the vote changed hands.</summary>
    public static int CheckNoOverlap(List<Window> windows)
    {
        var ordered = windows.OrderBy(w => w.From).ToList();
        foreach (var a in ordered)
        {
            foreach (var b in ordered.Where(b => b.Node != a.Node && b.From < a.To && a.From < b.To))
                throw new Xunit.Sdk.XunitException($"replicas {a.Node} and {b.Node} both trusted the vote: {a.From.TotalMilliseconds:0}-{a.To.TotalMilliseconds:0} ms and {b.From.TotalMilliseconds:0}-{b.To.TotalMilliseconds:0} ms");
        }
        int handovers = 0;
        for (int i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Node != ordered[i - 1].Node)
                handovers++;
        }
        return handovers;
    }
}
