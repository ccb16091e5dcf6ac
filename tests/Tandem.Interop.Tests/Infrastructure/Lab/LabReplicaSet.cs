using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// An HA device on real nodes in the network lab: one node per data host, the device created on
/// the first and mirrored onto the others with <c>tandem replica add</c> from the root namespace
/// (each partner's sync and heartbeat channel named), and the checks the lab tests share.
/// </summary>
internal sealed class LabReplicaSet : IAsyncDisposable
{
    public const int BlockSize = 512;

    private readonly ITestOutputHelper _output;

    private LabReplicaSet(NetworkLab lab, TandemNode[] nodes, string device, string target, ITestOutputHelper output)
    {
        Lab = lab;
        Nodes = nodes;
        Device = device;
        Target = target;
        _output = output;
    }

    public NetworkLab Lab { get; }
    public TandemNode[] Nodes { get; }
    public string Device { get; }
    public string Target { get; }

    /// <summary>The node on lab host <paramref name="number"/> (1-3).</summary>
    public TandemNode this[int number] => Nodes[number - 1];

    /// <summary>
    /// Starts a node on each of the first <paramref name="dataHosts"/> hosts and mirrors a thick
    /// device of <paramref name="sizeBytes"/> across them; <paramref name="replicaAddOptions"/> go to
    /// <c>replica add</c> (e.g. <c>--failover node-majority</c>), <paramref name="serveArguments"/> to every
    /// node's <c>tandem serve</c> (e.g. <c>--link-timeout 2</c>). Returns once every node is synchronized.
    /// </summary>
    public static async Task<LabReplicaSet> StartAsync(NetworkLab lab, TempDirectory data, string device, long sizeBytes, ITestOutputHelper output,
        int? dataHosts = null, IEnumerable<string>? replicaAddOptions = null, IReadOnlyList<string>? serveArguments = null)
    {
        var hosts = lab.Hosts.Take(dataHosts ?? lab.Hosts.Count).ToArray();
        var nodes = hosts.Select(h => new TandemNode(data.Combine($"host{h.Number}"),
            h.NodeEndpoints with { ServeArguments = serveArguments ?? [] }, $"node-{h.Number}")).ToArray();
        try
        {
            await Task.WhenAll(nodes.Select(n => n.StartAsync()));
            var created = await nodes[0].CreateDeviceAsync(new { name = device, type = "image", sizeBytes, provisioning = "thick" });
            var arguments = new List<string> { TandemNode.TandemDll, "replica", "add", device };
            foreach (var (node, host) in nodes.Zip(hosts).Skip(1))
                arguments.AddRange(["--partner", node.ApiEndPoint, "--sync-channel", host.SyncChannel, "--heartbeat-channel", host.HeartbeatChannel]);
            arguments.AddRange(replicaAddOptions ?? []);
            arguments.AddRange(["--partner-password", TandemNode.AdminPassword, "--init", "synchronize",
                "--server", nodes[0].ApiEndPoint, "--password", TandemNode.AdminPassword]);
            var add = await ExternalTool.RunAsync("dotnet", arguments, TimeSpan.FromMinutes(2), NetworkLab.ClientEnvironment());
            output.WriteLine(add.StdOut);
            Assert.True(add.ExitCode == 0, $"replica add failed: {add}\n{Logs(nodes)}");
            await HaTests.WaitSynchronizedAsync(nodes, device, 60);
            return new LabReplicaSet(lab, nodes, device, created.GetProperty("targetName").GetString()!, output);
        }
        catch
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs the CLI from the root namespace against <paramref name="node"/> (as admin).</summary>
    public async Task<ToolResult> CliAsync(TandemNode node, params string[] arguments)
    {
        var result = await ExternalTool.RunAsync("dotnet", [TandemNode.TandemDll, .. arguments, "--server", node.ApiEndPoint, "--password", TandemNode.AdminPassword],
            TimeSpan.FromMinutes(2), NetworkLab.ClientEnvironment());
        _output.WriteLine($"tandem {string.Join(' ', arguments)}: exit {result.ExitCode}\n{result.StdOut}{result.StdErr}");
        return result;
    }

    public Task<JsonElement> ReplicasAsync(TandemNode node) => node.GetJsonAsync($"api/v1/devices/{Device}/replicas");

    /// <summary>This node's own replica state ("synchronized", "not-synchronized", "split-brain", ...).</summary>
    public async Task<string?> OwnStateAsync(TandemNode node) => (await ReplicasAsync(node)).GetProperty("state").GetString();

    /// <summary>Whether the node serves I/O for the device now (its failover view).</summary>
    public async Task<bool> ServesAsync(TandemNode node) => (await ReplicasAsync(node)).GetProperty("failover").GetProperty("serving").GetBoolean();

    public static JsonElement NodeView(JsonElement set, int nodeId) =>
        set.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("nodeId").GetInt32() == nodeId);

    public static string? State(JsonElement set, int nodeId) => NodeView(set, nodeId).GetProperty("state").GetString();

    public static string[] Strings(JsonElement node, string property) =>
        [.. node.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];

    public async Task<RawInitiator> LoginAsync(LabHost host, string initiator)
    {
        var session = await RawInitiator.ConnectAsync(host.Client.ToString(), LabHost.IscsiPort);
        await session.LoginAsync($"iqn.2026-11.org.tandem.test:lab-{initiator}", Target);
        return session;
    }

    public async Task AssertIdenticalAsync(TandemNode node)
    {
        var verify = await node.PostJsonAsync($"api/v1/devices/{Device}/verify", null);
        Assert.True(verify.GetProperty("identical").GetBoolean(), verify.ToString());
    }

    public Task WaitUntilAsync(string what, Func<Task<bool>> condition, int seconds = 30) => WaitUntilAsync(what, condition, Nodes, _output, seconds);

    public static async Task WaitUntilAsync(string what, Func<Task<bool>> condition, IEnumerable<TandemNode> nodes, ITestOutputHelper output, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{what}: not within {seconds} s\n{Logs(nodes)}");
            await Task.Delay(100);
        }
        output.WriteLine($"{what}: after {watch.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// The replication link between the two hosts' nodes is an established connection from the
    /// dialer's sync address to the listener's sync address and replication port, seen on both
    /// ends; no replication connection runs on the client network, and none on the heartbeat
    /// network but heartbeat channels.
    /// </summary>
    public async Task AssertReplicationRunsOnSyncNetworkAsync(LabHost dialer, LabHost listener)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var dialed = await Lab.EstablishedConnectionsAsync(dialer);
            var accepted = await Lab.EstablishedConnectionsAsync(listener);
            var replication = new IPEndPoint(listener.Sync, LabHost.ReplicationPort);
            bool onSync = dialed.Any(c => c.Local.Address.Equals(dialer.Sync) && c.Remote.Equals(replication)) &&
                          accepted.Any(c => c.Local.Equals(replication) && c.Remote.Address.Equals(dialer.Sync));
            var elsewhere = dialed.Concat(accepted)
                .Where(c => (c.Local.Port == LabHost.ReplicationPort || c.Remote.Port == LabHost.ReplicationPort) &&
                            !Lab.Hosts.Any(h => h.Sync.Equals(c.Local.Address) || h.Heartbeat.Equals(c.Local.Address)))
                .ToList();
            Assert.True(elsewhere.Count == 0, $"replication traffic off the sync and heartbeat networks: {string.Join(", ", elsewhere)}");
            if (onSync)
                return;
            Assert.True(DateTime.UtcNow < deadline,
                $"no replication link {dialer.Sync} -> {replication}:\nhost {dialer.Number}: {string.Join(", ", dialed)}\nhost {listener.Number}: {string.Join(", ", accepted)}");
            await Task.Delay(200);
        }
    }

    /// <summary>A heartbeat channel runs between the two hosts on the heartbeat network.</summary>
    public async Task AssertHeartbeatRunsOnHeartbeatNetworkAsync(LabHost dialer, LabHost listener)
    {
        await WaitUntilAsync($"heartbeat channel {dialer.Number} -> {listener.Number} on the heartbeat network", async () =>
        {
            var dialed = await Lab.EstablishedConnectionsAsync(dialer);
            return dialed.Any(c => c.Local.Address.Equals(dialer.Heartbeat) && c.Remote.Equals(new IPEndPoint(listener.Heartbeat, LabHost.ReplicationPort)));
        }, 15);
    }

    public string Logs() => Logs(Nodes);

    public static string Logs(IEnumerable<TandemNode> nodes) =>
        string.Join("\n", nodes.Select(n => $"--- {n.NodeName}:\n{n.Log}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
            await node.DisposeAsync();
    }
}
