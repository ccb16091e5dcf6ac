using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>
/// The replication section of an HA device's header: the replica set, this node's place in it,
/// and the state that decides, after any restart, whether this copy may serve and which way a
/// resync goes (docs/design/replication.md, "Generation identifiers"). The cluster secret is not
/// here (it lives in the node's 0600 configuration). Every property is written and required on
/// read: the source-generated reader would otherwise give a missing init-only property its type's
/// default rather than the initializer's value.
/// </summary>
public sealed record ReplicationHeader
{
    public const int MaxHistory = 16;

    /// <summary>Cluster the replica set belongs to (a GUID).</summary>
    public required string ClusterId { get; init; }

    /// <summary>This node's replica id (1-3).</summary>
    public required int LocalNodeId { get; init; }

    /// <summary>Every node of the replica set, this one included.</summary>
    public required IReadOnlyList<ReplicaNodeHeader> Nodes { get; init; }

    /// <summary>"synchronized" or "not-synchronized": whether this copy holds current data.</summary>
    public required string State { get; init; }

    /// <summary>Current generation identifier (16 hex digits).</summary>
    public required string Generation { get; init; }

    /// <summary>Earlier generations, newest first (at most <see cref="MaxHistory"/>).</summary>
    [JsonRequired]
    public IReadOnlyList<string> History { get; init; } = [];

    /// <summary>True while the node runs; cleared by a clean shutdown (tells a crash from a stop).</summary>
    [JsonRequired]
    public bool Running { get; init; }

    /// <summary>
    /// Failover strategy, chosen when the replica set is created and never changed:
    /// <see cref="HeartbeatFailover"/> or <see cref="NodeMajorityFailover"/>. Headers written before
    /// strategies existed have none, which reads as heartbeat (docs/design/failover.md).
    /// </summary>
    public string? Failover { get; init; }

    /// <summary>The third vote of a two-node device under node majority; null when it has none.</summary>
    public WitnessHeader? Witness { get; init; }

    public const string HeartbeatFailover = "heartbeat";
    public const string NodeMajorityFailover = "node-majority";

    /// <summary>The failover strategy, with the default for headers that predate strategies.</summary>
    [JsonIgnore]
    public string FailoverStrategy => Failover ?? HeartbeatFailover;

    public string? FindProblem()
    {
        if (!Guid.TryParse(ClusterId, out _))
            return $"replication.clusterId '{ClusterId}' is not a GUID.";
        if (Nodes is null || Nodes.Count is < 2 or > 3)
            return "replication.nodes must list 2 or 3 nodes.";
        if (State is not ("synchronized" or "not-synchronized"))
            return $"replication.state '{State}' is not synchronized or not-synchronized.";
        if (!IsGeneration(Generation))
            return $"replication.generation '{Generation}' is not 16 hex digits.";
        if (History is null || History.Count > MaxHistory || History.Any(h => !IsGeneration(h)))
            return $"replication.history must hold at most {MaxHistory} generations of 16 hex digits.";
        var ids = new HashSet<int>();
        foreach (var node in Nodes)
        {
            if (node is null)
                return "replication.nodes holds null.";
            if (node.NodeId is < 1 or > 3 || !ids.Add(node.NodeId))
                return $"replication.nodes: node id {node.NodeId} is not 1-3 or is repeated.";
            if (string.IsNullOrWhiteSpace(node.Api))
                return $"replication.nodes: node {node.NodeId} has no api endpoint.";
            if (node.SyncChannels is null || node.SyncChannels.Count == 0 || node.SyncChannels.Any(string.IsNullOrWhiteSpace))
                return $"replication.nodes: node {node.NodeId} needs at least one sync channel.";
            if (node.HeartbeatChannels is null)
                return $"replication.nodes: node {node.NodeId} has no heartbeatChannels list.";
            if (node.State is not ("synchronized" or "not-synchronized"))
                return $"replication.nodes: node {node.NodeId} state '{node.State}' is not synchronized or not-synchronized.";
            if (node.Priority is < 1 or > 255)
                return $"replication.nodes: node {node.NodeId} priority {node.Priority} is not 1-255.";
        }
        if (!ids.Contains(LocalNodeId))
            return $"replication.localNodeId {LocalNodeId} is not one of the nodes.";
        if (Failover is not (null or HeartbeatFailover or NodeMajorityFailover))
            return $"replication.failover '{Failover}' is not {HeartbeatFailover} or {NodeMajorityFailover}.";
        if (Witness is not null)
        {
            if (FailoverStrategy != NodeMajorityFailover)
                return "replication.witness is set, but only a node-majority device has a witness.";
            if (Nodes.Count != 2)
                return "replication.witness is set on a three-way device; three data nodes need no witness.";
            if (Witness.FindProblem() is { } witnessProblem)
                return "replication.witness: " + witnessProblem;
        }
        return null;
    }

    private static bool IsGeneration(string? value) => value is { Length: 16 } && value.All(char.IsAsciiHexDigit);
}

/// <summary>
/// Where the witness of a two-node, node-majority device votes: a Tandem node holding a data-less
/// witness device (<see cref="Address"/>, its management API), or a lease file on a shared folder
/// (<see cref="Path"/>). Exactly one is set.
/// </summary>
public sealed record WitnessHeader
{
    /// <summary>Management API endpoint ("host:port") of the witness node.</summary>
    public string? Address { get; init; }

    /// <summary>Shared folder (SMB/NFS mount) that holds the lease file.</summary>
    public string? Path { get; init; }

    public string? FindProblem()
    {
        if (string.IsNullOrWhiteSpace(Address) == string.IsNullOrWhiteSpace(Path))
            return "give exactly one of address (a witness node) or path (a file-share witness).";
        if (Path is { } path && !System.IO.Path.IsPathFullyQualified(path))
            return $"path '{path}' is not an absolute path.";
        return null;
    }

    public override string ToString() => Address is { } address ? $"witness node {address}" : $"file-share witness {Path}";
}

/// <summary>One node of a replica set, as recorded by every member.</summary>
public sealed record ReplicaNodeHeader
{
    public required int NodeId { get; init; }
    [JsonRequired]
    public string NodeName { get; init; } = "";

    /// <summary>Management API endpoint ("host:port").</summary>
    public required string Api { get; init; }

    /// <summary>Replication endpoints ("host:port") this node listens on for the device.</summary>
    public required IReadOnlyList<string> SyncChannels { get; init; }

    [JsonRequired]
    public IReadOnlyList<string> HeartbeatChannels { get; init; } = [];

    /// <summary>ALUA preference of this node's paths.</summary>
    [JsonRequired]
    public bool Optimized { get; init; } = true;

    [JsonRequired]
    public int Priority { get; init; } = 1;

    /// <summary>
    /// What the recording node last knew of this node's copy: "synchronized", or "not-synchronized"
    /// when it was left behind (the recording node then may serve alone after a restart).
    /// </summary>
    public required string State { get; init; }
}
