using Tandem.Replication.Ordering;

namespace Tandem.Replication.Replicas;

/// <summary>
/// Adjacent writes from one partner that arrived in one receive batch, planned and holding their
/// apply locks, waiting to go to the local copy as one gathered write (one system call for a run
/// of sequential writes instead of one each). Used only by that partner's receive loop; the device
/// writes it out before anything that must see the data: the end of the batch, any other frame, a
/// write that does not continue the run, or a wait for a lock.
/// </summary>
internal sealed class RemoteWriteGather
{
    /// <summary>Most writes gathered into one system call (and IOV_MAX-safe).</summary>
    public const int MaxWrites = 64;

    /// <summary>Most bytes gathered: replies wait for the whole write, so keep it short.</summary>
    public const int MaxBytes = 1 << 20;

    private readonly List<ReadOnlyMemory<byte>> _pieces = new(MaxWrites);
    private readonly List<(ulong RequestId, RangeLock.Holder Lock)> _writes = new(MaxWrites);
    private int _bytes;

    /// <summary>First block of the gathered run.</summary>
    public long Lba { get; private set; }

    /// <summary>The block after the gathered run: the only place the next write may start.</summary>
    public long End { get; private set; }

    /// <summary>The partner's clock carried by frames already gathered, observed only once they are written (-1: none).</summary>
    public long PendingClock { get; set; } = -1;

    public bool IsEmpty => _writes.Count == 0;

    public IReadOnlyList<ReadOnlyMemory<byte>> Pieces => _pieces;

    /// <summary>True when a write of <paramref name="bytes"/> at <paramref name="lba"/> may join the run.</summary>
    public bool CanTake(long lba, int bytes) =>
        IsEmpty || (lba == End && _writes.Count < MaxWrites && _bytes + bytes <= MaxBytes);

    public void Add(ulong requestId, RangeLock.Holder held, long lba, long blockCount, ReadOnlyMemory<byte> data)
    {
        if (IsEmpty)
            Lba = lba;
        End = lba + blockCount;
        _pieces.Add(data);
        _writes.Add((requestId, held));
        _bytes += data.Length;
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
        _pieces.Clear();
        _bytes = 0;
    }
}
