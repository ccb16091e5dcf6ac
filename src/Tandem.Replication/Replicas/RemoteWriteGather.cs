using Tandem.Replication.Ordering;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>
/// Adjacent writes from one partner that arrived in one receive batch, planned and holding their
/// apply locks, waiting to go to the local copy as one gathered write (<see cref="AdjacentWrites"/>).
/// Used only by that partner's receive loop; the device writes it out before anything that must
/// see the data: the end of the batch, any other frame, a write that does not continue the run,
/// or a wait for a lock.
/// </summary>
internal sealed class RemoteWriteGather
{
    private readonly List<(ulong RequestId, RangeLock.Holder Lock)> _writes = new(AdjacentWrites.MaxPieces);

    /// <summary>The gathered data, in stamp order.</summary>
    public AdjacentWrites Run { get; } = new();

    /// <summary>The partner's clock carried by frames already gathered, observed only once they are written (-1: none).</summary>
    public long PendingClock { get; set; } = -1;

    public bool IsEmpty => Run.IsEmpty;

    public void Add(ulong requestId, RangeLock.Holder held, long lba, long blockCount, ReadOnlyMemory<byte> data)
    {
        Run.Add(lba, blockCount, data);
        _writes.Add((requestId, held));
    }

    /// <summary>The request ids gathered, in arrival order.</summary>
    public ulong RequestId(int index) => _writes[index].RequestId;

    public int Count => _writes.Count;

    /// <summary>Releases every apply lock held and empties the gather.</summary>
    public void Clear()
    {
        foreach (var (_, held) in _writes)
            held.Dispose();
        _writes.Clear();
        Run.Clear();
    }
}
