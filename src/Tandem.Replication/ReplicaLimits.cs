namespace Tandem.Replication;

/// <summary>Fixed limits of a replica set.</summary>
public static class ReplicaLimits
{
    /// <summary>Two-way and three-way replication: replica ids are 1..3.</summary>
    public const int MaxNodeId = 3;

    /// <summary>Default TCP port of the replication (synchronization and heartbeat) channels.</summary>
    public const int DefaultReplicationPort = 3262;

    /// <summary>Bytes covered by one bit of a dirty bitmap (SPEC §6: 64 KiB per bit).</summary>
    public const int ExtentBytes = 64 * 1024;
}
