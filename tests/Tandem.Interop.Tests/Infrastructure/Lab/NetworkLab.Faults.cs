namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>Link faults: a silent cut between two hosts, and a host's cable pulled from a network's switch.</summary>
public sealed partial class NetworkLab
{
    /// <summary>A locally administered hardware address that no port of the lab has.</summary>
    private const string Nowhere = "02:00:00:00:00:00";

    /// <summary>
    /// Cuts <paramref name="a"/> and <paramref name="b"/> apart on <paramref name="network"/>
    /// without either noticing: each sends the other's packets to a hardware address nobody has,
    /// so they leave the host and are lost in the switch, as behind a broken cable or a switch
    /// that drops them. No error reaches either side's sockets (no reset, no ICMP; a connect
    /// just times out); only the two hosts' links to each other are affected, so a three-way
    /// set can be partitioned partially.
    /// </summary>
    /// <remarks>
    /// Why not tc netem or a firewall rule: this kernel has no netem qdisc and no tc drop action,
    /// and no iptables/nft is installed; a blackhole route would fail new connects locally at
    /// once instead of leaving them unanswered. A static neighbour entry needs nothing but iproute2.
    /// </remarks>
    public async Task CutAsync(LabHost a, LabHost b, LabNetwork network)
    {
        await LosePacketsAsync(a, b, network);
        await LosePacketsAsync(b, a, network);
        _log($"network lab {RunId}: {network} link between hosts {a.Number} and {b.Number} cut silently");
    }

    /// <summary>
    /// Like <see cref="CutAsync"/> in one direction only: what <paramref name="from"/> sends to
    /// <paramref name="to"/> is lost, the other way still works (a failing transceiver). Cutting
    /// the second direction later makes the two ends notice the cut at different times.
    /// </summary>
    public async Task CutOneWayAsync(LabHost from, LabHost to, LabNetwork network)
    {
        await LosePacketsAsync(from, to, network);
        _log($"network lab {RunId}: {network} packets from host {from.Number} to host {to.Number} are lost");
    }

    private static Task LosePacketsAsync(LabHost from, LabHost to, LabNetwork network) =>
        IpCommand.RunAsync("-n", from.Namespace, "neigh", "replace", to.AddressOn(network).ToString(),
            "lladdr", Nowhere, "dev", network.InterfaceName(), "nud", "permanent");

    /// <summary>Undoes <see cref="CutAsync"/> or <see cref="CutOneWayAsync"/>: both hosts resolve each other's hardware address again.</summary>
    public async Task HealAsync(LabHost a, LabHost b, LabNetwork network)
    {
        // "nud all" also removes the permanent entry a cut left; without one it removes nothing.
        foreach (var (from, to) in new[] { (a, b), (b, a) })
            await IpCommand.RunAsync("-n", from.Namespace, "neigh", "flush", "to", to.AddressOn(network).ToString(), "dev", network.InterfaceName(), "nud", "all");
        _log($"network lab {RunId}: {network} link between hosts {a.Number} and {b.Number} healed");
    }

    /// <summary>
    /// Pulls <paramref name="host"/>'s cable from <paramref name="network"/>'s switch: its port on
    /// the bridge goes down, the host's interface loses carrier, and every link of the host on
    /// that network is dead at once (to every other host).
    /// </summary>
    public async Task UnplugAsync(LabHost host, LabNetwork network)
    {
        await IpCommand.RunAsync("-n", SwitchNamespace, "link", "set", host.SwitchPort(network), "down");
        _log($"network lab {RunId}: host {host.Number} unplugged from the {network} network");
    }

    public async Task PlugInAsync(LabHost host, LabNetwork network)
    {
        await IpCommand.RunAsync("-n", SwitchNamespace, "link", "set", host.SwitchPort(network), "up");
        _log($"network lab {RunId}: host {host.Number} plugged back into the {network} network");
    }
}
