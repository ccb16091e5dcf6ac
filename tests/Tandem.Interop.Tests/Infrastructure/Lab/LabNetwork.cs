namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>The three networks every lab host is attached to, as a real Tandem node would be.</summary>
public enum LabNetwork
{
    /// <summary>Initiators, the management API and the CLI: the only lab network the root namespace is on.</summary>
    Client,

    /// <summary>Replication links (node to node only).</summary>
    Sync,

    /// <summary>Heartbeat channels (node to node only).</summary>
    Heartbeat,
}

internal static class LabNetworks
{
    public static readonly LabNetwork[] All = [LabNetwork.Client, LabNetwork.Sync, LabNetwork.Heartbeat];

    /// <summary>
    /// Name of the network's interface inside a host namespace, and of its bridge in the switch
    /// namespace. Both namespaces belong to one lab run, so the names need no run suffix.
    /// </summary>
    public static string InterfaceName(this LabNetwork network) => network switch
    {
        LabNetwork.Client => "client",
        LabNetwork.Sync => "sync",
        _ => "heartbeat",
    };
}
