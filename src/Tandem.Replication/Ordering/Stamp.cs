namespace Tandem.Replication.Ordering;

/// <summary>
/// The order of a replicated write: a Lamport clock value and the replica id of the node that
/// accepted the write from an initiator. Stamps are totally ordered (Lamport value first, node id
/// breaks ties), and every replica applies, block by block, the write with the newest stamp.
/// </summary>
public readonly record struct Stamp(long Lamport, int NodeId) : IComparable<Stamp>
{
    /// <summary>Older than every stamp a node hands out (Lamport values start at 1).</summary>
    public static Stamp Zero => default;

    public int CompareTo(Stamp other)
    {
        int byClock = Lamport.CompareTo(other.Lamport);
        return byClock != 0 ? byClock : NodeId.CompareTo(other.NodeId);
    }

    public static bool operator <(Stamp left, Stamp right) => left.CompareTo(right) < 0;
    public static bool operator >(Stamp left, Stamp right) => left.CompareTo(right) > 0;
    public static bool operator <=(Stamp left, Stamp right) => left.CompareTo(right) <= 0;
    public static bool operator >=(Stamp left, Stamp right) => left.CompareTo(right) >= 0;

    public override string ToString() => $"{Lamport}@{NodeId}";
}
