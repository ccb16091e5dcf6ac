namespace Tandem.Replication.Replicas;

/// <summary>Whether a replica's copy holds current data (docs/design/replication.md, "Node states and ALUA").</summary>
public enum ReplicaState
{
    /// <summary>Holds current data; serves I/O once confirmed.</summary>
    Synchronized,
    /// <summary>Being copied to by a synchronized node; blocked.</summary>
    Synchronizing,
    /// <summary>Stale or left behind; blocked until synchronized.</summary>
    NotSynchronized,
}

public static class ReplicaStateText
{
    public const string Synchronized = "synchronized";
    public const string Synchronizing = "synchronizing";
    public const string NotSynchronized = "not-synchronized";
    public const string SplitBrain = "split-brain";

    public static string ToText(this ReplicaState state) => state switch
    {
        ReplicaState.Synchronized => Synchronized,
        ReplicaState.Synchronizing => Synchronizing,
        _ => NotSynchronized,
    };

    public static ReplicaState Parse(string? text) => text switch
    {
        Synchronized => ReplicaState.Synchronized,
        Synchronizing => ReplicaState.Synchronizing,
        _ => ReplicaState.NotSynchronized,
    };
}
