using Tandem.Interop.Tests.Infrastructure.Lab;

namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>The replica-set shapes a trial can pick.</summary>
public enum TrialConfiguration
{
    /// <summary>Node majority, data nodes on hosts 1-2, a witness node (plain <c>tandem serve</c>) on host 3.</summary>
    WitnessNode,

    /// <summary>Node majority, data nodes on hosts 1-2, a file-share witness (a folder both see).</summary>
    FileShareWitness,

    /// <summary>Node majority, data nodes on hosts 1-3, no witness.</summary>
    ThreeNodes,

    /// <summary>The heartbeat strategy (priorities: node 1 outranks node 2), data nodes on hosts 1-2.</summary>
    Heartbeat,
}

public static class TrialConfigurations
{
    public static int DataNodes(this TrialConfiguration configuration) => configuration == TrialConfiguration.ThreeNodes ? 3 : 2;

    public static int Hosts(this TrialConfiguration configuration) => configuration is TrialConfiguration.WitnessNode or TrialConfiguration.ThreeNodes ? 3 : 2;

    public static bool IsNodeMajority(this TrialConfiguration configuration) => configuration != TrialConfiguration.Heartbeat;
}

/// <summary>What a fault does (its undo is implied: restart, heal, plug in).</summary>
public enum FaultKind
{
    /// <summary>SIGKILL a node (a data node or the witness node); restarted by its undo.</summary>
    Kill,

    /// <summary>Silent cut of a pair's sync link (both directions).</summary>
    CutSync,

    /// <summary>Silent cut of a pair's heartbeat link (both directions).</summary>
    CutHeartbeat,

    /// <summary>Sync and heartbeat link of a pair cut at once.</summary>
    CutSyncAndHeartbeat,

    /// <summary>What one host sends the other on the sync or heartbeat network is lost; the other direction works.</summary>
    CutOneWay,

    /// <summary>A data node's client-network link to the witness host (the witness node's votes travel there).</summary>
    CutWitnessLink,

    /// <summary>A host's sync cable pulled from the switch (every sync link of the host dead at once).</summary>
    UnplugSync,
}

/// <summary>
/// One fault: applied at step <see cref="Start"/> of the schedule and undone at step
/// <see cref="End"/> (null: undone when the fault phase ends, with everything else).
/// </summary>
/// <param name="A">The node (Kill), the host (UnplugSync), the sender (CutOneWay) or the first host of the pair.</param>
/// <param name="B">The other host of the pair or the receiver (CutOneWay); 0 when there is none.</param>
/// <param name="Network">The network the cut is on (sync for Kill and UnplugSync, where it means nothing).</param>
public sealed record Fault(int Id, FaultKind Kind, int A, int B, LabNetwork Network)
{
    public int Start { get; set; }
    public int? End { get; set; }

    public bool CutsSyncBetween(int x, int y) => Kind switch
    {
        FaultKind.CutSync or FaultKind.CutSyncAndHeartbeat => IsPair(x, y),
        FaultKind.CutOneWay => Network == LabNetwork.Sync && IsPair(x, y),
        FaultKind.UnplugSync => A == x || A == y,
        _ => false,
    };

    public bool CutsHeartbeatBetween(int x, int y) => Kind switch
    {
        FaultKind.CutHeartbeat or FaultKind.CutSyncAndHeartbeat => IsPair(x, y),
        FaultKind.CutOneWay => Network == LabNetwork.Heartbeat && IsPair(x, y),
        _ => false,
    };

    private bool IsPair(int x, int y) => (A == x && B == y) || (A == y && B == x);

    public override string ToString() => Kind switch
    {
        FaultKind.Kill => $"#{Id} kill -9 {(A == 0 ? "witness node" : $"node {A}")}",
        FaultKind.CutOneWay => $"#{Id} lose {Network} packets {A}->{B}",
        FaultKind.CutWitnessLink => $"#{Id} cut node {A} from the witness host {B}",
        FaultKind.UnplugSync => $"#{Id} unplug host {A} from the sync network",
        _ => $"#{Id} {Kind} {A}-{B}",
    };
}

/// <summary>One step of a schedule: after <see cref="PauseMs"/>, apply or undo <see cref="Fault"/>.</summary>
public sealed record ScheduleStep(int PauseMs, Fault Fault, bool Undo)
{
    public override string ToString() => $"+{PauseMs / 1000.0:0.0} s {(Undo ? "undo" : "apply")} {Fault}";
}

/// <summary>
/// A trial's configuration and faults, drawn from the trial's seed alone (so a failure can be
/// replayed with the seed): 3-6 faults, each after a pause of 1-6 s; each one is undone after
/// another 1-6 s with probability one half, otherwise it lasts until the end of the fault phase.
/// A fault never touches what an active fault holds (a killed node, a cut pair on that network,
/// an unplugged host), so every undo restores exactly what its fault took.
/// </summary>
public sealed class TrialPlan
{
    /// <summary>Host number of the witness node in <see cref="TrialConfiguration.WitnessNode"/> trials (node id 0 in a Kill fault).</summary>
    public const int WitnessHost = 3;

    private TrialPlan(int seed, TrialConfiguration configuration, IReadOnlyList<ScheduleStep> steps, IReadOnlyList<Fault> faults, int heartbeatKeeper)
    {
        Seed = seed;
        Configuration = configuration;
        Steps = steps;
        Faults = faults;
        SplitBrainKeeper = heartbeatKeeper;
    }

    public int Seed { get; }
    public TrialConfiguration Configuration { get; }
    public IReadOnlyList<ScheduleStep> Steps { get; }
    public IReadOnlyList<Fault> Faults { get; }

    /// <summary>The node whose copy the administrator keeps should a split brain be reported.</summary>
    public int SplitBrainKeeper { get; }

    /// <param name="configurations">The configurations a trial may draw, in enum order (all four: the seed picks as it always did).</param>
    public static TrialPlan Draw(int seed, IReadOnlyList<TrialConfiguration> configurations)
    {
        var random = new Random(seed);
        var configuration = configurations[random.Next(configurations.Count)];
        int dataNodes = configuration.DataNodes();
        var pending = new List<(int AtMs, ScheduleStep Step)>();
        var faults = new List<Fault>();
        var active = new List<(Fault Fault, int EndsAtMs)>();
        int now = 0;
        int count = random.Next(3, 7);
        for (int i = 1; i <= count; i++)
        {
            now += random.Next(1000, 6001);
            active.RemoveAll(a => a.EndsAtMs <= now);
            var fault = DrawFault(random, i, configuration, dataNodes, [.. active.Select(a => a.Fault)]);
            faults.Add(fault);
            pending.Add((now, new ScheduleStep(0, fault, Undo: false)));
            if (random.Next(2) == 0)
            {
                int undoAt = now + random.Next(1000, 6001);
                pending.Add((undoAt, new ScheduleStep(0, fault, Undo: true)));
                active.Add((fault, undoAt));
            }
            else
            {
                active.Add((fault, int.MaxValue));
            }
        }
        // Ordered by time (an apply before an undo at the same instant), each with its pause since the previous step.
        var ordered = pending.OrderBy(p => p.AtMs).ThenBy(p => p.Step.Undo).ToList();
        var steps = new List<ScheduleStep>();
        int previous = 0;
        for (int index = 0; index < ordered.Count; index++)
        {
            var (at, step) = ordered[index];
            if (step.Undo)
                step.Fault.End = index;
            else
                step.Fault.Start = index;
            steps.Add(step with { PauseMs = at - previous });
            previous = at;
        }
        return new TrialPlan(seed, configuration, steps, faults, random.Next(1, dataNodes + 1));
    }

    private static Fault DrawFault(Random random, int id, TrialConfiguration configuration, int dataNodes, IReadOnlyList<Fault> active)
    {
        var kinds = new List<FaultKind> { FaultKind.Kill, FaultKind.CutSync, FaultKind.CutHeartbeat, FaultKind.CutSyncAndHeartbeat, FaultKind.CutOneWay, FaultKind.UnplugSync };
        if (configuration == TrialConfiguration.WitnessNode)
            kinds.Add(FaultKind.CutWitnessLink);
        while (true)
        {
            var kind = kinds[random.Next(kinds.Count)];
            var candidates = Candidates(kind, id, configuration, dataNodes).Where(c => !active.Any(a => Conflicts(a, c))).ToList();
            if (candidates.Count > 0)
                return candidates[random.Next(candidates.Count)];
            kinds.Remove(kind);
            if (kinds.Count == 0)
                throw new InvalidOperationException("no fault left to draw"); // cannot happen with at most 5 active faults
        }
    }

    private static IEnumerable<Fault> Candidates(FaultKind kind, int id, TrialConfiguration configuration, int dataNodes)
    {
        var pairs = from a in Enumerable.Range(1, dataNodes) from b in Enumerable.Range(1, dataNodes) where a < b select (a, b);
        switch (kind)
        {
            case FaultKind.Kill:
                foreach (int node in Enumerable.Range(1, dataNodes))
                    yield return new Fault(id, kind, node, 0, LabNetwork.Sync);
                if (configuration == TrialConfiguration.WitnessNode)
                    yield return new Fault(id, kind, 0, 0, LabNetwork.Sync);
                break;
            case FaultKind.CutSync or FaultKind.CutHeartbeat or FaultKind.CutSyncAndHeartbeat:
                foreach (var (a, b) in pairs)
                    yield return new Fault(id, kind, a, b, kind == FaultKind.CutHeartbeat ? LabNetwork.Heartbeat : LabNetwork.Sync);
                break;
            case FaultKind.CutOneWay:
                foreach (var (a, b) in pairs)
                {
                    foreach (var network in new[] { LabNetwork.Sync, LabNetwork.Heartbeat })
                    {
                        yield return new Fault(id, kind, a, b, network);
                        yield return new Fault(id, kind, b, a, network);
                    }
                }
                break;
            case FaultKind.CutWitnessLink:
                foreach (int node in Enumerable.Range(1, dataNodes))
                    yield return new Fault(id, kind, node, WitnessHost, LabNetwork.Client);
                break;
            case FaultKind.UnplugSync:
                foreach (int host in Enumerable.Range(1, dataNodes))
                    yield return new Fault(id, kind, host, 0, LabNetwork.Sync);
                break;
        }
    }

    /// <summary>Whether two faults hold the same thing (so the second could not be undone alone).</summary>
    private static bool Conflicts(Fault a, Fault b)
    {
        if (a.Kind == FaultKind.Kill || b.Kind == FaultKind.Kill)
            return a.Kind == b.Kind && a.A == b.A;
        if (a.Kind == FaultKind.UnplugSync || b.Kind == FaultKind.UnplugSync)
            return a.Kind == b.Kind && a.A == b.A;
        return Networks(a).Intersect(Networks(b)).Any() && new[] { a.A, a.B }.Order().SequenceEqual(new[] { b.A, b.B }.Order());
    }

    private static IEnumerable<LabNetwork> Networks(Fault fault) => fault.Kind switch
    {
        FaultKind.CutSyncAndHeartbeat => [LabNetwork.Sync, LabNetwork.Heartbeat],
        _ => [fault.Network],
    };

    public string Describe()
    {
        var lines = new List<string> { $"trial seed {Seed}: {Configuration}, {Faults.Count} faults, split-brain keeper node {SplitBrainKeeper}" };
        lines.AddRange(Steps.Select(s => "  " + s));
        lines.Add("  (faults not undone above are undone when the fault phase ends)");
        return string.Join("\n", lines);
    }
}
