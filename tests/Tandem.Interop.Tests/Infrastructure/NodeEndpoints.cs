using System.Net;

namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>
/// Where a test node listens, and what its process is started under. Most tests run nodes on
/// loopback (<see cref="OnLoopback"/>); the network lab runs each node inside a network namespace
/// (<see cref="Launcher"/> = <c>ip netns exec NS</c>) with its portal and API on its client
/// address and replication on its sync address.
/// </summary>
public sealed record NodeEndpoints(IReadOnlyList<IPAddress> PortalAddresses, int IscsiPort, IPEndPoint Api, IPEndPoint Replication)
{
    /// <summary>More replication endpoints the node listens on (e.g. its heartbeat network's address).</summary>
    public IReadOnlyList<IPEndPoint> MoreReplication { get; init; } = [];

    /// <summary>More <c>tandem serve</c> options (e.g. <c>--link-timeout 2</c>).</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    /// <summary>Program and arguments that start the node's <c>dotnet</c> (empty: started directly).</summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    /// <summary>
    /// Portals on <paramref name="portalAddresses"/>, the API on 127.0.0.1 and replication on the
    /// first portal address, each on a port nobody uses.
    /// </summary>
    public static NodeEndpoints OnLoopback(IReadOnlyList<IPAddress> portalAddresses) => new(
        portalAddresses,
        FreePort.OnAll([.. portalAddresses]),
        new IPEndPoint(IPAddress.Loopback, FreePort.On(IPAddress.Loopback)),
        new IPEndPoint(portalAddresses[0], FreePort.On(portalAddresses[0])));
}
