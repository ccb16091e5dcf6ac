using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tandem.Interop.Tests.Infrastructure.Lab;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>
/// One trial of the failover campaign (FailoverCampaignTests): a fresh lab and replica set, writes
/// through every data node while the plan's faults come and go, then everything healed, the set
/// left to converge, and every acknowledged write, verify and the image hashes checked.
/// </summary>
internal sealed partial class CampaignTrial(int index, TrialPlan plan, ITestOutputHelper output, string? logDirectory)
{
    public const string Device = "campaign";
    public const long DeviceBytes = 32L << 20;
    public const double LinkTimeoutSeconds = 2;

    /// <summary>Every node of a trial: short failover timers (they all follow the link timeout) and witness lease.</summary>
    public static readonly string[] ServeArguments = ["--link-timeout", "2", "--witness-lease", "4"];

    private static readonly TimeSpan ConvergeWithin = TimeSpan.FromSeconds(120);

    /// <summary>Heartbeat interval = link timeout / 10 (NodeOptions).</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(LinkTimeoutSeconds * 1.1) + ServingTimeline.SamplePeriod + TimeSpan.FromMilliseconds(500);

    private readonly TrialResult _result = new(index, plan);
    private readonly ServingTimeline _timeline = new(Grace);
    private readonly WriteLedger _ledger = new();
    private readonly HashSet<Fault> _active = [];
    private NetworkLab _lab = null!;
    private LabReplicaSet _set = null!;
    private TandemNode? _witness;
    private int _sessions;

    private int DataNodes => plan.Configuration.DataNodes();

    public async Task<TrialResult> RunAsync()
    {
        var watch = Stopwatch.StartNew();
        output.WriteLine(plan.Describe());
        using var data = new TempDirectory();
        try
        {
            await using var lab = await NetworkLab.CreateAsync(plan.Configuration.Hosts(), output.WriteLine);
            _lab = lab;
            bool nodeMajority = plan.Configuration.IsNodeMajority();
            await using var set = await LabReplicaSet.StartAsync(lab, data, Device, DeviceBytes, output, dataHosts: DataNodes,
                replicaAddOptions: nodeMajority ? ["--failover", "node-majority"] : [], serveArguments: ServeArguments);
            _set = set;
            try
            {
                await AddWitnessAsync(data);
                await RunWithSetAsync();
            }
            catch (Exception e)
            {
                _result.Failure ??= $"{e.GetType().Name}: {e.Message}";
            }
            finally
            {
                _result.Duration = watch.Elapsed;
                if (_result.Failed)
                    KeepLogs();
                if (_witness is not null)
                    await _witness.DisposeAsync();
            }
        }
        catch (Exception e)
        {
            _result.Failure ??= $"{e.GetType().Name}: {e.Message}";
        }
        _result.Duration = watch.Elapsed;
        output.WriteLine(_result.Describe());
        return _result;
    }

    private async Task AddWitnessAsync(TempDirectory data)
    {
        switch (plan.Configuration)
        {
            case TrialConfiguration.WitnessNode:
                _witness = await TandemNode.StartAsync(data.Combine("witness"), _lab[TrialPlan.WitnessHost].NodeEndpoints with { ServeArguments = ServeArguments }, "witness");
                await CliOrThrowAsync("witness", "add", Device, "--witness", _witness.ApiEndPoint, "--witness-password", TandemNode.AdminPassword);
                break;
            case TrialConfiguration.FileShareWitness:
                string share = data.Combine("share");
                Directory.CreateDirectory(share);
                await CliOrThrowAsync("witness", "add", Device, "--witness-path", share);
                break;
        }
    }

    private async Task CliOrThrowAsync(params string[] arguments)
    {
        var result = await _set.CliAsync(_set[1], arguments);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"tandem {string.Join(' ', arguments)} failed: {result}");
    }

    private async Task RunWithSetAsync()
    {
        var logStart = _set.Nodes.Select(n => n.Log.Length).ToArray();
        await FaultPhaseAsync();
        await HealEverythingAsync();
        var cutoffs = await ConvergeAsync();
        CountResyncs(logStart);
        if (cutoffs is null)
            return;
        await CheckAcknowledgedWritesAsync(cutoffs);
        await CheckReplicasIdenticalAsync();
    }

    private async Task FaultPhaseAsync()
    {
        var writers = Enumerable.Range(1, DataNodes).Select(node =>
        {
            long regionBlocks = DeviceBytes / LabReplicaSet.BlockSize / DataNodes / RegionWriter.Blocks * RegionWriter.Blocks;
            int slots = (int)(regionBlocks / RegionWriter.Blocks);
            if (slots % 17 == 0)
                slots--;
            return new RegionWriter(node, (uint)((node - 1) * regionBlocks), slots, () => ConnectAsync(node), _ledger,
                [.. Enumerable.Range(1, DataNodes).Where(n => n != node)]);
        }).ToList();
        using var stop = new CancellationTokenSource();
        var writing = writers.Select(w => Task.Run(() => w.RunAsync(stop.Token))).ToList();
        var sampling = Task.Run(() => SampleAsync(stop.Token));
        try
        {
            await Task.Delay(1000); // some writes before the first fault
            foreach (var step in plan.Steps)
            {
                await Task.Delay(step.PauseMs);
                if (step.Undo)
                    await UndoAsync(step.Fault);
                else
                    await ApplyAsync(step.Fault);
            }
            await Task.Delay(2000);
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(writing.Append(sampling));
        }
        foreach (var writer in writers)
        {
            _result.NotReady += writer.NotReady;
            _result.Reconnects += writer.Reconnects;
            _result.ReadChecks += writer.ReadChecks;
            _result.StaleReads.AddRange(writer.StaleReads);
            _result.UnexpectedErrors.AddRange(writer.UnexpectedErrors);
        }
        _result.Acknowledged = _ledger.AcknowledgedCount;
        _result.DivergentServing.AddRange(_timeline.DivergentServing(DataNodes));
        _result.LongestServingAcrossCut = _timeline.LongestOverlap(DataNodes);
    }

    private async Task<RawInitiator> ConnectAsync(int node)
    {
        var session = await RawInitiator.ConnectAsync(_lab[node].Client.ToString(), LabHost.IscsiPort);
        try
        {
            await session.LoginAsync($"iqn.2026-11.org.tandem.test:campaign-{node}-{Interlocked.Increment(ref _sessions)}", _set.Target);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    private async Task SampleAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var sent = DateTime.UtcNow;
            var serving = await Task.WhenAll(Enumerable.Range(1, DataNodes).Select(n => ServesAsync(_set[n])));
            var answered = DateTime.UtcNow;
            _timeline.Add(new ServingSample(sent, answered, Enumerable.Range(1, DataNodes).Where(n => serving[n - 1]).ToHashSet()));
            var wait = ServingTimeline.SamplePeriod - (answered - sent);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    /// <summary><c>failover.serving</c> of the node; false when it does not answer within 2 s (killed, restarting).</summary>
    private static async Task<bool> ServesAsync(TandemNode node)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            using var response = await node.Api.GetAsync($"api/v1/devices/{Device}/replicas", timeout.Token);
            if (!response.IsSuccessStatusCode)
                return false;
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
            return json.RootElement.GetProperty("failover").GetProperty("serving").GetBoolean();
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or KeyNotFoundException)
        {
            return false;
        }
    }

    private LabHost Host(int number) => _lab[number];

    private TandemNode NodeOf(Fault fault) => fault.A == 0 ? _witness! : _set[fault.A];

    private async Task ApplyAsync(Fault fault)
    {
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} apply {fault}");
        switch (fault.Kind)
        {
            case FaultKind.Kill:
                await NodeOf(fault).KillAsync();
                break;
            case FaultKind.CutSync or FaultKind.CutHeartbeat:
                await _lab.CutAsync(Host(fault.A), Host(fault.B), fault.Network);
                break;
            case FaultKind.CutSyncAndHeartbeat:
                await _lab.CutAsync(Host(fault.A), Host(fault.B), LabNetwork.Sync);
                await _lab.CutAsync(Host(fault.A), Host(fault.B), LabNetwork.Heartbeat);
                break;
            case FaultKind.CutOneWay:
                await _lab.CutOneWayAsync(Host(fault.A), Host(fault.B), fault.Network);
                break;
            case FaultKind.CutWitnessLink:
                await _lab.CutAsync(Host(fault.A), Host(fault.B), LabNetwork.Client);
                break;
            case FaultKind.UnplugSync:
                await _lab.UnplugAsync(Host(fault.A), LabNetwork.Sync);
                break;
        }
        _timeline.Applied(fault);
        _active.Add(fault);
    }

    private async Task UndoAsync(Fault fault)
    {
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} undo {fault}");
        _timeline.Undoing(fault);
        _active.Remove(fault);
        switch (fault.Kind)
        {
            case FaultKind.Kill:
                await NodeOf(fault).StartAsync();
                break;
            case FaultKind.CutSync or FaultKind.CutHeartbeat or FaultKind.CutOneWay:
                await _lab.HealAsync(Host(fault.A), Host(fault.B), fault.Network);
                break;
            case FaultKind.CutSyncAndHeartbeat:
                await _lab.HealAsync(Host(fault.A), Host(fault.B), LabNetwork.Sync);
                await _lab.HealAsync(Host(fault.A), Host(fault.B), LabNetwork.Heartbeat);
                break;
            case FaultKind.CutWitnessLink:
                await _lab.HealAsync(Host(fault.A), Host(fault.B), LabNetwork.Client);
                break;
            case FaultKind.UnplugSync:
                await _lab.PlugInAsync(Host(fault.A), LabNetwork.Sync);
                break;
        }
    }

    /// <summary>Undoes every fault still in force: links healed, cables plugged in, killed nodes started again (in the order they were applied).</summary>
    private async Task HealEverythingAsync()
    {
        foreach (var fault in plan.Faults.Where(_active.Contains).ToList())
            await UndoAsync(fault);
    }

    /// <summary>
    /// Waits until every data node reports every replica synchronized. A split brain (both sides
    /// went on alone) is resolved as the administrator would: <c>mark-synchronized</c> on the
    /// plan's keeper. Returns, per region, the cutoff of the writes that must have survived
    /// (null: all of them); null when the set never converged.
    /// </summary>
    private async Task<Dictionary<int, DateTime?>?> ConvergeAsync()
    {
        var watch = Stopwatch.StartNew();
        TimeSpan? splitBrainSeen = null;
        bool marked = false;
        string last = "";
        while (true)
        {
            var sets = new List<JsonElement?>();
            foreach (var node in _set.Nodes)
                sets.Add(await TryReplicasAsync(node));
            last = string.Join("\n", sets.Select(s => s?.ToString() ?? "(no answer)"));
            if (sets.All(s => s is { } set && AllSynchronized(set)))
                break;
            if (sets.Any(s => s is { } set && ReportsSplitBrain(set)))
                splitBrainSeen ??= watch.Elapsed;
            if (splitBrainSeen is { } seen && !marked && watch.Elapsed - seen > TimeSpan.FromSeconds(2))
            {
                output.WriteLine($"split brain reported; keeping node {plan.SplitBrainKeeper}'s copy (mark-synchronized)");
                await _set[plan.SplitBrainKeeper].PostJsonAsync($"api/v1/devices/{Device}/mark-synchronized", null);
                marked = true;
            }
            if (watch.Elapsed > ConvergeWithin)
            {
                _result.Failure = $"the replicas did not all report synchronized within {ConvergeWithin.TotalSeconds:0} s of the heal; last views:\n{last}";
                return null;
            }
            await Task.Delay(250);
        }
        _result.ConvergedAfter = watch.Elapsed;
        var cutoffs = Enumerable.Range(1, DataNodes).ToDictionary(n => n, _ => (DateTime?)null);
        _result.SplitBrainReported = splitBrainSeen is not null;
        if (splitBrainSeen is null)
            return cutoffs;
        int keeper = plan.SplitBrainKeeper;
        var notes = new List<string>();
        foreach (int region in cutoffs.Keys.Where(r => r != keeper).ToList())
        {
            if (_timeline.FirstTotalCut(keeper, region) is { } cut)
            {
                cutoffs[region] = cut;
                notes.Add($"node {region}'s writes required up to the total cut at {cut:HH:mm:ss.fff}");
            }
            else
            {
                notes.Add($"no total cut between nodes {keeper} and {region}: all of node {region}'s writes required");
            }
        }
        _result.SplitBrainNote = $"kept node {keeper}; " + string.Join("; ", notes);
        return cutoffs;
    }

    private static async Task<JsonElement?> TryReplicasAsync(TandemNode node)
    {
        try
        {
            return await node.GetJsonAsync($"api/v1/devices/{Device}/replicas");
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>This node serves, and sees every node synchronized, active and connected.</summary>
    private static bool AllSynchronized(JsonElement set) =>
        set.GetProperty("state").GetString() == "synchronized" &&
        set.GetProperty("failover").GetProperty("serving").GetBoolean() &&
        set.GetProperty("nodes").EnumerateArray().All(n => n.GetProperty("state").GetString() == "synchronized" &&
            n.GetProperty("aluaState").GetString()!.StartsWith("active", StringComparison.Ordinal) && n.GetProperty("connected").GetBoolean());

    private static bool ReportsSplitBrain(JsonElement set) =>
        set.GetProperty("state").GetString() == "split-brain" ||
        set.GetProperty("nodes").EnumerateArray().Any(n => n.GetProperty("state").GetString() == "split-brain");

    [GeneratedRegex(@"(\w+) synchronization of replica \d+ done", RegexOptions.IgnoreCase)]
    private static partial Regex SyncDone();

    private void CountResyncs(int[] logStart)
    {
        for (int i = 0; i < _set.Nodes.Length; i++)
        {
            foreach (Match match in SyncDone().Matches(_set.Nodes[i].Log[logStart[i]..]))
            {
                if (match.Groups[1].Value.Equals("fast", StringComparison.OrdinalIgnoreCase))
                    _result.FastResyncs++;
                else
                    _result.FullResyncs++;
            }
        }
    }

    /// <summary>Every write the rules require reads back through every data node.</summary>
    private async Task CheckAcknowledgedWritesAsync(Dictionary<int, DateTime?> cutoffs)
    {
        var required = cutoffs.SelectMany(c => _ledger.Requirements(c.Key, c.Value)).ToList();
        _result.RequiredWrites = required.Count;
        for (int node = 1; node <= DataNodes; node++)
        {
            await using var session = await LoginForChecksAsync(node);
            foreach (var requirement in required)
            {
                var read = await ReadThroughFailoverAsync(session, requirement.Lba);
                if (!read.IsGood || !requirement.IsMetBy(read.Data))
                {
                    _result.LostWrites.Add($"through node {node}: LBA {requirement.Lba} (node {requirement.Region}'s region) " +
                                           (read.IsGood ? (read.Data.All(b => b == 0) ? "reads zeros" : "reads other data") : $"read failed: {read}"));
                }
            }
        }
    }

    private async Task<RawInitiator> LoginForChecksAsync(int node)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await ConnectAsync(node);
            }
            catch (Exception) when (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(500);
            }
        }
    }

    private static async Task<ScsiResult> ReadThroughFailoverAsync(RawInitiator session, uint lba)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var read = await session.Read10Async(lba, RegionWriter.Blocks, RegionWriter.BlockSize);
            if (read.IsGood || read.Status != 2 || read.SenseKey is not (2 or 6) || watch.Elapsed > TimeSpan.FromSeconds(10))
                return read;
            await Task.Delay(100);
        }
    }

    /// <summary><c>verify</c> through every data node says identical, and every image file hashes the same.</summary>
    private async Task CheckReplicasIdenticalAsync()
    {
        foreach (var node in _set.Nodes)
        {
            var verify = await node.PostJsonAsync($"api/v1/devices/{Device}/verify", null);
            if (!verify.GetProperty("identical").GetBoolean())
                _result.DivergentReplicas.Add($"verify through {node.NodeName}: {verify}");
        }
        using var copies = new TempDirectory();
        var hashes = new List<(string Node, string Hash)>();
        foreach (var node in _set.Nodes)
        {
            string copy = HaNetworkLabTests.CopyOfImage(node, Device, copies);
            await using (var stream = File.OpenRead(copy))
                hashes.Add((node.NodeName, Convert.ToHexString(await SHA256.HashDataAsync(stream))[..16]));
            File.Delete(copy);
        }
        if (hashes.Select(h => h.Hash).Distinct().Count() > 1)
            _result.DivergentReplicas.Add($"image hashes differ: {string.Join(", ", hashes.Select(h => $"{h.Node} {h.Hash}"))}");
    }

    /// <summary>A failed trial's node logs: saved to the log directory if there is one, else their tails printed.</summary>
    private void KeepLogs()
    {
        var nodes = _set.Nodes.Append(_witness).OfType<TandemNode>().ToList();
        if (logDirectory is null)
        {
            foreach (var node in nodes)
                output.WriteLine($"--- {node.NodeName} (last 150 lines):\n{string.Join("\n", node.Log.Split('\n').TakeLast(150))}");
            return;
        }
        string directory = Path.Combine(logDirectory!, $"trial-{index}-seed-{plan.Seed}");
        Directory.CreateDirectory(directory);
        foreach (var node in nodes)
            File.WriteAllText(Path.Combine(directory, node.NodeName + ".log"), node.Log);
        File.WriteAllText(Path.Combine(directory, "trial.txt"), plan.Describe() + "\n\n" + _result.Describe());
        _result.LogDirectory = directory;
    }
}
