using System.Net;
using Microsoft.Extensions.Logging;

namespace Tandem.Node.Hosting;

/// <summary>How to run a node (from `tandem serve` options, or tests).</summary>
public sealed record NodeOptions
{
    public const int DefaultIscsiPort = 3260;
    public const int DefaultApiPort = 3261;
    public const string DefaultIqnPrefix = "iqn.2026-11.org.tandem";
    public const string DefaultVendor = "TANDEM";
    public const string DefaultProduct = "VSAN";

    /// <summary>T10 vendor identification is 8 ASCII characters (SPC-4 §6.6.2, INQUIRY data).</summary>
    public const int MaxVendorLength = 8;

    /// <summary>Product identification is 16 ASCII characters (SPC-4 §6.6.2).</summary>
    public const int MaxProductLength = 16;

    public string DataDirectory { get; init; } = Config.DataDirectory.DefaultPath;

    /// <summary>iSCSI portals (one per network); port 0 binds an ephemeral port.</summary>
    public IReadOnlyList<IPEndPoint> Portals { get; init; } = [new(IPAddress.Loopback, DefaultIscsiPort)];

    public IPEndPoint ApiEndpoint { get; init; } = new(IPAddress.Loopback, DefaultApiPort);

    /// <summary>Replication (synchronization and heartbeat) endpoints; null: each portal's address on port 3262 (port 0 when the portal's is 0).</summary>
    public IReadOnlyList<IPEndPoint>? ReplicationEndpoints { get; init; }

    /// <summary>The replication endpoints to bind.</summary>
    public IReadOnlyList<IPEndPoint> EffectiveReplicationEndpoints => ReplicationEndpoints ??
        Portals.Select(p => new IPEndPoint(p.Address, p.Port == 0 ? 0 : Replication.ReplicaLimits.DefaultReplicationPort)).Distinct().ToArray();

    /// <summary>Null: the stored name, else the host name (lowercased, sanitised).</summary>
    public string? NodeName { get; init; }

    /// <summary>Null: the stored admin password, else a generated one.</summary>
    public string? AdminPassword { get; init; }

    public string IqnPrefix { get; init; } = DefaultIqnPrefix;
    public string Vendor { get; init; } = DefaultVendor;
    public string Product { get; init; } = DefaultProduct;

    /// <summary>How long a vote of this node's witness devices holds; null: <see cref="Replication.Failover.WitnessLease.Default"/> (tests shorten it).</summary>
    public TimeSpan? WitnessLease { get; init; }

    /// <summary>
    /// How long a silent replication link (sync or heartbeat) takes to be declared down; null: 5 s.
    /// Every failover timer follows it (docs/design/failover.md, "Timers").
    /// </summary>
    public TimeSpan? LinkTimeout { get; init; }

    /// <summary>Bounds of <see cref="LinkTimeout"/> (implementation limits: below, heartbeats swamp the link; above, failover takes minutes).</summary>
    public static readonly TimeSpan MinLinkTimeout = TimeSpan.FromSeconds(1), MaxLinkTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Bounds of <see cref="WitnessLease"/> (implementation limits).</summary>
    public static readonly TimeSpan MinWitnessLease = TimeSpan.FromSeconds(1), MaxWitnessLease = TimeSpan.FromSeconds(120);

    /// <summary>The link timings <see cref="LinkTimeout"/> implies: a heartbeat every tenth of it, a redial at most every second.</summary>
    public Replication.Links.LinkTimings EffectiveLinkTimings => LinkTimeout is not { } timeout
        ? Replication.Links.LinkTimings.Default
        : Replication.Links.LinkTimings.Default with
        {
            Timeout = timeout,
            HeartbeatInterval = timeout / 10,
            ReconnectDelay = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, (timeout / 5).Ticks)),
        };

    /// <summary>Logging for the node; null: single-line console logs.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
