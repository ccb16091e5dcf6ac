namespace Tandem.Storage;

/// <summary>
/// An HA link of a device to a partner node. Placeholder: the replication issue fills it in;
/// headers written now always have an empty list.
/// </summary>
public sealed record ReplicaLink
{
    /// <summary>Partner node's host name or address.</summary>
    public required string PartnerHost { get; init; }

    /// <summary>Partner node's management port (SPEC §6: default 3261).</summary>
    public int PartnerPort { get; init; } = 3261;
}
