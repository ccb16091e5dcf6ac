using Tandem.Storage;

namespace Tandem.Node.HighAvailability;

/// <summary>Body of POST /api/v1/cluster/join: a partner hands this node the cluster's credentials.</summary>
public sealed record JoinClusterRequest
{
    public string? ClusterId { get; init; }
    public string? Secret { get; init; }
}

/// <summary>
/// Body of POST /api/v1/replication/partner-devices: the node adding a replica asks this node to
/// create its copy of the HA device, with the same geometry and identity.
/// </summary>
public sealed record PartnerDeviceRequest
{
    public string? Name { get; init; }
    public string? Location { get; init; }
    public long? SizeBytes { get; init; }
    public int? SectorSize { get; init; }
    public string? Provisioning { get; init; }
    public string? Naa { get; init; }
    public string? Serial { get; init; }
    public string? TargetName { get; init; }

    /// <summary>The replica set as this node must record it (its own id in localNodeId).</summary>
    public ReplicationHeader? Replication { get; init; }
}
