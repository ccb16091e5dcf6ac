namespace Tandem.Node.Api.Models;

/// <summary>
/// Body of POST /api/v1/devices/{name}/replicas: turns a device into an HA device by creating
/// partner devices on one or two other nodes through their management APIs.
/// </summary>
public sealed record AddReplicaRequest
{
    /// <summary>Management API endpoint ("host:port") of each partner node: one for two-way, two for three-way.</summary>
    public IReadOnlyList<string>? Partners { get; init; }

    /// <summary>Administrator of the partner nodes (default "admin").</summary>
    public string? PartnerUser { get; init; }

    public string? PartnerPassword { get; init; }

    /// <summary>Folder on the partner nodes for the partner image (default: the partner's data directory).</summary>
    public string? PartnerLocation { get; init; }

    /// <summary>
    /// Replication endpoints ("addr[:port]", port 3262 by default) of the partners; each is matched to the
    /// partner with the same host. Default: the endpoints the partner advertises.
    /// </summary>
    public IReadOnlyList<string>? SyncChannels { get; init; }

    /// <summary>Heartbeat endpoints ("addr[:port]"), matched like <see cref="SyncChannels"/>.</summary>
    public IReadOnlyList<string>? HeartbeatChannels { get; init; }

    /// <summary>"synchronize" (default: copy this node's data), "clear" (zero both sides) or "none" (trust they are equal).</summary>
    public string? Init { get; init; }

    /// <summary>ALUA of the partners' paths: "optimized" (default) or "non-optimized".</summary>
    public string? Alua { get; init; }

    /// <summary>Failover priority of every partner (1 = highest, 255 = lowest; default 2).</summary>
    public int? Priority { get; init; }

    /// <summary>Failover priority of each partner, in <see cref="Partners"/> order (instead of <see cref="Priority"/>).</summary>
    public IReadOnlyList<int>? Priorities { get; init; }

    /// <summary>Failover priority of this node (default 1, the highest).</summary>
    public int? LocalPriority { get; init; }

    /// <summary>ALUA of each partner's paths, in <see cref="Partners"/> order (instead of <see cref="Alua"/>).</summary>
    public IReadOnlyList<string>? AluaPerPartner { get; init; }

    /// <summary>ALUA of this node's paths: "optimized" (default) or "non-optimized".</summary>
    public string? LocalAlua { get; init; }

    /// <summary>
    /// Failover strategy, fixed for the life of the replica set: "heartbeat" (default: priorities
    /// decide who stops when the sync channels are lost but a heartbeat answers) or
    /// "node-majority" (a node serves only while it reaches more than half of the votes).
    /// </summary>
    public string? Failover { get; init; }
}

/// <summary>Body of POST /api/v1/devices/{name}/sync.</summary>
public sealed record SyncRequest
{
    /// <summary>Copy every block instead of only those marked in the dirty bitmap.</summary>
    public bool? Full { get; init; }
}

/// <summary>An HA device's replica set as one node sees it (GET /api/v1/devices/{name}/replicas).</summary>
/// <param name="State">This node's replica state: "synchronized", "synchronizing", "not-synchronized" or "split-brain".</param>
/// <param name="Failover">The failover strategy and what it does now, or null for a device that is not replicated.</param>
public sealed record ReplicaSetDto(string Device, string State, IReadOnlyList<ReplicaNodeDto> Nodes, FailoverDto? Failover = null);

/// <summary>The failover strategy of a replica set as one node applies it (docs/design/failover.md).</summary>
/// <param name="Strategy">"heartbeat" or "node-majority" (fixed when the replica set was created).</param>
/// <param name="Serving">Whether this node serves I/O now.</param>
/// <param name="BlockedReason">Why this node does not serve although its copy is current (no majority), or null.</param>
/// <param name="Witness">The witness ("witness node HOST:PORT", "file-share witness DIR"), or null.</param>
/// <param name="HoldsWitnessVote">Whether this node holds the witness's vote now.</param>
/// <param name="WitnessAnswer">The witness's last answer to this node, or null.</param>
/// <param name="Warnings">How the replica set is wired that risks a split brain or an outage (e.g. fewer than two independent heartbeat channels).</param>
public sealed record FailoverDto(
    string Strategy,
    bool Serving,
    string? BlockedReason,
    string? Witness,
    bool HoldsWitnessVote,
    string? WitnessAnswer,
    IReadOnlyList<string> Warnings);

/// <summary>One node of a replica set.</summary>
/// <param name="NodeId">Replica id (1-3); also the node's ALUA target port group and relative target port.</param>
/// <param name="Local">True for the node that answered.</param>
/// <param name="Api">Management API endpoint ("host:port").</param>
/// <param name="State">"synchronized", "synchronizing", "not-synchronized" or "split-brain".</param>
/// <param name="Alua">Configured preference: "optimized" or "non-optimized".</param>
/// <param name="AluaState">State reported to initiators: "active-optimized", "active-non-optimized", "transitioning", "unavailable".</param>
/// <param name="Connected">Whether the replication link to this node is up (true for the local node).</param>
/// <param name="DirtyBytes">Bytes marked in the local dirty bitmap for this partner (what a fast sync copies).</param>
/// <param name="Sync">Progress of a running synchronization to or from this node, or null.</param>
/// <param name="LastSync">The last finished synchronization to or from this node (its final figures), or null.</param>
/// <param name="HeartbeatsUp">How many heartbeat channels to this node are up (0 for the local node).</param>
public sealed record ReplicaNodeDto(
    int NodeId,
    bool Local,
    string NodeName,
    string Api,
    IReadOnlyList<string> SyncChannels,
    IReadOnlyList<string> HeartbeatChannels,
    string State,
    string Alua,
    string AluaState,
    int Priority,
    bool Connected,
    long DirtyBytes,
    SyncProgressDto? Sync,
    SyncProgressDto? LastSync = null,
    int HeartbeatsUp = 0);

/// <summary>A running synchronization.</summary>
/// <param name="Kind">"full" or "fast".</param>
/// <param name="SourceNodeId">Replica id of the node copying its data.</param>
/// <param name="TargetNodeId">Replica id of the node being synchronized.</param>
/// <param name="RateBytesPerSecond">Average rate so far.</param>
/// <param name="EtaSeconds">Estimated seconds to completion, or null before a rate is known.</param>
public sealed record SyncProgressDto(
    string Kind,
    int SourceNodeId,
    int TargetNodeId,
    double Percent,
    long BytesDone,
    long BytesTotal,
    long RateBytesPerSecond,
    double? EtaSeconds);

/// <summary>Answer of POST /api/v1/devices/{name}/verify: block checksums of every replica compared over the wire.</summary>
/// <param name="ComparedNodes">Replica ids whose data was compared with the local node's.</param>
/// <param name="Differences">Ranges whose checksums differ (empty when <paramref name="Identical"/>).</param>
public sealed record VerifyResultDto(
    string Device,
    IReadOnlyList<int> ComparedNodes,
    long ComparedBytes,
    bool Identical,
    IReadOnlyList<VerifyDifferenceDto> Differences);

/// <summary>A byte range whose checksum on <paramref name="NodeId"/> differs from the local node's.</summary>
public sealed record VerifyDifferenceDto(int NodeId, long OffsetBytes, long LengthBytes);
