using System.Net;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// One host of the lab: a network namespace with an address on each network. A node runs inside
/// it under <see cref="Launcher"/> and listens on the product's default ports, which are free in a
/// namespace of its own.
/// </summary>
public sealed record LabHost(int Number, string Namespace, IPAddress Client, IPAddress Sync, IPAddress Heartbeat)
{
    public const int IscsiPort = 3260;
    public const int ApiPort = 3261;
    public const int ReplicationPort = 3262;

    public IPAddress AddressOn(LabNetwork network) => network switch
    {
        LabNetwork.Client => Client,
        LabNetwork.Sync => Sync,
        _ => Heartbeat,
    };

    /// <summary>Starts a program inside this host's namespace.</summary>
    public IReadOnlyList<string> Launcher => ["ip", "netns", "exec", Namespace];

    /// <summary>
    /// A node here: portal and API on the client network, replication on the sync network, and
    /// heartbeat channels answered on the heartbeat network.
    /// </summary>
    public NodeEndpoints NodeEndpoints => new([Client], IscsiPort, new IPEndPoint(Client, ApiPort), new IPEndPoint(Sync, ReplicationPort))
    {
        Launcher = Launcher,
        MoreReplication = [new IPEndPoint(Heartbeat, ReplicationPort)],
    };

    /// <summary>What partners give <c>replica add --sync-channel</c> for this host.</summary>
    public string SyncChannel => new IPEndPoint(Sync, ReplicationPort).ToString();

    /// <summary>What partners give <c>replica add --heartbeat-channel</c> for this host.</summary>
    public string HeartbeatChannel => new IPEndPoint(Heartbeat, ReplicationPort).ToString();

    /// <summary>This host's port on the network's bridge (in the switch namespace): its "cable".</summary>
    internal string SwitchPort(LabNetwork network) => $"n{Number}-{network.InterfaceName()}";

    public override string ToString() => $"host {Number} ({Namespace}: client {Client}, sync {Sync}, heartbeat {Heartbeat})";
}
