using Tandem.Storage;

namespace Tandem.Replication.Failover;

/// <summary>SPEC §6 "Failover strategy": chosen when the replica set is created, never changed.</summary>
public enum FailoverStrategy
{
    /// <summary>Priorities decide who stops when the sync channels are lost but a heartbeat answers.</summary>
    Heartbeat,
    /// <summary>A node serves only while it reaches more than half of the votes.</summary>
    NodeMajority,
}

public static class FailoverStrategyText
{
    public static FailoverStrategy Of(ReplicationHeader header) =>
        header.FailoverStrategy == ReplicationHeader.NodeMajorityFailover ? FailoverStrategy.NodeMajority : FailoverStrategy.Heartbeat;

    public static string ToText(this FailoverStrategy strategy) =>
        strategy == FailoverStrategy.NodeMajority ? ReplicationHeader.NodeMajorityFailover : ReplicationHeader.HeartbeatFailover;

    /// <summary>
    /// Whether node <paramref name="a"/> outranks node <paramref name="b"/>: the lower priority
    /// number wins (1 is the highest), and the lower replica id breaks a tie, so exactly one of any
    /// two nodes outranks the other, and every node computes the same answer from its header.
    /// </summary>
    public static bool Outranks(ReplicaNodeHeader a, ReplicaNodeHeader b) =>
        a.Priority != b.Priority ? a.Priority < b.Priority : a.NodeId < b.NodeId;
}
