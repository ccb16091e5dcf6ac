using System.Net;
using System.Security.Cryptography;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// Two or three hosts on one machine, each in its own network namespace, joined by a client, a
/// sync and a heartbeat network, so that real nodes can be given separate networks and have any
/// one link cut (see NetworkLab.Faults.cs). Needs root (CAP_NET_ADMIN); tests use
/// <see cref="NetworkLabFactAttribute"/> to skip where it cannot be built.
/// </summary>
/// <remarks>
/// Layout (addresses only from 198.18.0.0/15, the range reserved for network tests):
/// <code>
///   root namespace (tests, initiators, CLI)   tlab&lt;id&gt; 198.19.X.254 ──┐
///   switch namespace: bridges client ─ sync ─ heartbeat                  │
///     host N namespace: client 198.19.X.N ─────── port nN-client ───────┘
///                       sync   198.18.2.N ─────── port nN-sync
///                       heartbeat 198.18.3.N ──── port nN-heartbeat
/// </code>
/// Every bridge lives in one "switch" namespace of the run rather than in the root namespace:
/// the root namespace then holds exactly one lab interface, and deleting the switch namespace
/// takes every bridge and veth with it even if a run dies half-way. The sync and heartbeat
/// networks exist only inside the run's namespaces, so their subnets are fixed; the client
/// network is routed in the root namespace, so each run takes a /24 of 198.19.0.0/16 that no
/// route there uses yet (parallel runs do not collide). Hosts have no default route: nothing
/// they send can leave the machine.
/// </remarks>
public sealed partial class NetworkLab : IAsyncDisposable
{
    /// <summary>Every namespace of a lab run is named <c>tandemlab-PID-ID-…</c> (PID of the test process).</summary>
    public const string NamespacePrefix = "tandemlab-";

    /// <summary>Prefix of the run's one interface in the root namespace (<c>tlab</c> + ID, well under 15 characters).</summary>
    public const string RootInterfacePrefix = "tlab";

    private const string SyncSubnet = "198.18.2";
    private const string HeartbeatSubnet = "198.18.3";
    private const int RootHostNumber = 254;

    private readonly Action<string> _log;
    private readonly List<string> _namespaces = [];
    private readonly List<LabHost> _hosts = [];
    private bool _rootInterfaceCreated;

    private NetworkLab(string runId, string clientSubnet, Action<string> log)
    {
        RunId = runId;
        ClientSubnet = clientSubnet;
        SwitchNamespace = $"{NamespacePrefix}{Environment.ProcessId}-{runId}-sw";
        RootInterface = RootInterfacePrefix + runId;
        RootAddress = IPAddress.Parse($"{clientSubnet}.{RootHostNumber}");
        _log = log;
    }

    /// <summary>Short random id of this run, part of every namespace and interface name it creates.</summary>
    public string RunId { get; }

    /// <summary>First three octets of this run's client network.</summary>
    public string ClientSubnet { get; }

    public string SwitchNamespace { get; }
    public string RootInterface { get; }

    /// <summary>The root namespace's address on the client network (where initiators connect from).</summary>
    public IPAddress RootAddress { get; }

    public IReadOnlyList<LabHost> Hosts => _hosts;
    /// <summary>Host by its number, 1 to 3 (as replica ids are).</summary>
    public LabHost this[int number] => _hosts[number - 1];

    /// <summary>
    /// Builds a lab of <paramref name="hostCount"/> hosts (first removing what crashed earlier
    /// runs left behind). Everything it created is removed again if building fails.
    /// </summary>
    public static async Task<NetworkLab> CreateAsync(int hostCount, Action<string>? log = null)
    {
        if (hostCount is < 2 or > 4)
            throw new ArgumentOutOfRangeException(nameof(hostCount), "a replica set has two or three nodes, and a witness may be one more host");
        log ??= _ => { };
        await StaleLabSweeper.SweepAsync(log);
        var lab = new NetworkLab(Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant(), await FreeClientSubnetAsync(), log);
        try
        {
            await lab.BuildSwitchAsync();
            for (int number = 1; number <= hostCount; number++)
                await lab.AddHostAsync(number);
            log($"network lab {lab.RunId}: {string.Join("; ", lab.Hosts)}; clients at {lab.RootAddress} ({lab.RootInterface})");
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private async Task BuildSwitchAsync()
    {
        await AddNamespaceAsync(SwitchNamespace);
        foreach (var network in LabNetworks.All)
        {
            await IpCommand.RunAsync("-n", SwitchNamespace, "link", "add", network.InterfaceName(), "type", "bridge");
            await IpCommand.RunAsync("-n", SwitchNamespace, "link", "set", network.InterfaceName(), "up");
        }

        // The root namespace joins the client network only.
        _rootInterfaceCreated = true;
        await IpCommand.RunAsync("link", "add", RootInterface, "type", "veth", "peer", "name", "root", "netns", SwitchNamespace);
        string rootIpv6 = $"/proc/sys/net/ipv6/conf/{RootInterface}/disable_ipv6";
        if (File.Exists(rootIpv6))
            await File.WriteAllTextAsync(rootIpv6, "1"); // before it is up: no fe80:: address either
        await IpCommand.RunAsync("-n", SwitchNamespace, "link", "set", "root", "master", LabNetwork.Client.InterfaceName(), "up");
        await IpCommand.RunAsync("addr", "add", $"{RootAddress}/24", "dev", RootInterface);
        await IpCommand.RunAsync("link", "set", RootInterface, "up");
    }

    private async Task AddHostAsync(int number)
    {
        var host = new LabHost(number, $"{NamespacePrefix}{Environment.ProcessId}-{RunId}-h{number}",
            IPAddress.Parse($"{ClientSubnet}.{number}"), IPAddress.Parse($"{SyncSubnet}.{number}"), IPAddress.Parse($"{HeartbeatSubnet}.{number}"));
        await AddNamespaceAsync(host.Namespace);
        await IpCommand.RunAsync("-n", host.Namespace, "link", "set", "lo", "up");
        foreach (var network in LabNetworks.All)
        {
            // One veth per network: the host's end is named after the network, the switch's end
            // (its port on the network's bridge) after the host.
            string port = host.SwitchPort(network), inside = network.InterfaceName();
            await IpCommand.RunAsync("-n", SwitchNamespace, "link", "add", port, "type", "veth", "peer", "name", inside, "netns", host.Namespace);
            await IpCommand.RunAsync("-n", SwitchNamespace, "link", "set", port, "master", network.InterfaceName(), "up");
            await IpCommand.RunAsync("-n", host.Namespace, "addr", "add", $"{host.AddressOn(network)}/24", "dev", inside);
            await IpCommand.RunAsync("-n", host.Namespace, "link", "set", inside, "up");
        }
        _hosts.Add(host);
    }

    private async Task AddNamespaceAsync(string name)
    {
        await IpCommand.RunAsync("netns", "add", name);
        _namespaces.Add(name);
        // No IPv6 in the lab: interfaces would otherwise get fe80:: addresses of their own (the
        // lab uses 198.18.0.0/15 only). Set before any interface exists, so every one inherits it.
        await IpCommand.InNamespaceAsync(name, "sh", "-c",
            "[ ! -d /proc/sys/net/ipv6 ] || { echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; }");
    }

    /// <summary>A /24 of 198.19.0.0/16 that nothing in the root namespace routes yet, picked at random.</summary>
    private static async Task<string> FreeClientSubnetAsync()
    {
        foreach (int third in Enumerable.Range(0, 256).OrderBy(_ => Random.Shared.Next()))
        {
            string subnet = $"198.19.{third}";
            var routes = await IpCommand.RunAsync("-4", "route", "show", "match", $"{subnet}.1");
            if (!routes.Split('\n', StringSplitOptions.RemoveEmptyEntries).Any(route => !route.StartsWith("default", StringComparison.Ordinal)))
                return subnet;
        }
        throw new InvalidOperationException("network lab: every /24 of 198.19.0.0/16 is in use");
    }

    /// <summary>
    /// Environment for clients started in the root namespace (the tandem CLI): proxy variables
    /// blanked, so requests to lab addresses go straight over the client network and never to a
    /// proxy off the machine. (Processes inside a host cannot reach anything but the lab.)
    /// </summary>
    public static Dictionary<string, string> ClientEnvironment() => new()
    {
        ["http_proxy"] = "",
        ["HTTP_PROXY"] = "",
        ["https_proxy"] = "",
        ["HTTPS_PROXY"] = "",
        ["all_proxy"] = "",
        ["ALL_PROXY"] = "",
    };

    /// <summary>Established TCP connections inside <paramref name="host"/> (<c>ss</c> in its namespace).</summary>
    public async Task<IReadOnlyList<TcpConnection>> EstablishedConnectionsAsync(LabHost host)
    {
        // -H: no header; with a state filter ss prints "Recv-Q Send-Q Local Peer" per line.
        var listing = await IpCommand.InNamespaceAsync(host.Namespace, "ss", "-Htn", "state", "established");
        return [.. listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return new TcpConnection(Unmapped(IPEndPoint.Parse(columns[2])), Unmapped(IPEndPoint.Parse(columns[3])));
        })];
    }

    private static IPEndPoint Unmapped(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;

    /// <summary>
    /// Kills whatever still runs in the lab's namespaces, then deletes the root interface and every
    /// namespace (which takes their bridges and veths along). Goes on past failures and logs them.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var problems = new List<string>();
        foreach (var ns in _namespaces)
            problems.AddRange(await StaleLabSweeper.KillProcessesInAsync(ns));
        // Deleted explicitly: a namespace is destroyed asynchronously after `ip netns del`, and
        // with it the root end of its veth; deleting it here leaves `ip link` clean at once.
        if (_rootInterfaceCreated && await IpCommand.TryAsync("link", "del", RootInterface) is { } linkProblem && !IsGone(linkProblem))
            problems.Add(linkProblem);
        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            if (await IpCommand.TryAsync("netns", "del", ns) is { } problem)
                problems.Add(problem);
        }
        _namespaces.Clear();
        _rootInterfaceCreated = false;
        foreach (var problem in problems)
            _log($"network lab {RunId}: teardown problem: {problem}");
    }

    private static bool IsGone(string problem) => problem.Contains("Cannot find device", StringComparison.Ordinal);
}
