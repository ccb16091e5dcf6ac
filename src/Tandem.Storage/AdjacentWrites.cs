using Tandem.Storage.Native;

namespace Tandem.Storage;

/// <summary>
/// Writes that continue one another (each starts at the block after the previous one), collected
/// to reach a device as one gathered write (<see cref="IBlockDevice.WriteGatheredAsync"/>): one
/// system call for a run of sequential writes instead of one each. Bounded in pieces (what one
/// pwritev takes) and in bytes (the writes of a run wait for the whole run). Not thread-safe: one
/// receive loop fills and empties it.
/// </summary>
public sealed class AdjacentWrites
{
    /// <summary>Most writes in one run (what one gathered write takes).</summary>
    public const int MaxPieces = LibC.MaxGatheredBuffers;

    /// <summary>Most bytes in one run: its writes wait for all of it, so keep it short.</summary>
    public const int MaxBytes = 1 << 20;

    private readonly List<ReadOnlyMemory<byte>> _pieces = new(MaxPieces);
    private int _bytes;

    /// <summary>First block of the run.</summary>
    public long Lba { get; private set; }

    /// <summary>The block after the run: the only place the next write may start.</summary>
    public long End { get; private set; }

    public bool IsEmpty => _pieces.Count == 0;

    public int Count => _pieces.Count;

    public IReadOnlyList<ReadOnlyMemory<byte>> Pieces => _pieces;

    /// <summary>True when a write of <paramref name="bytes"/> at <paramref name="lba"/> may join the run.</summary>
    public bool CanTake(long lba, int bytes) =>
        IsEmpty || (lba == End && _pieces.Count < MaxPieces && _bytes + bytes <= MaxBytes);

    /// <summary>Adds a write the caller checked with <see cref="CanTake"/>.</summary>
    public void Add(long lba, long blockCount, ReadOnlyMemory<byte> data)
    {
        if (IsEmpty)
            Lba = lba;
        End = lba + blockCount;
        _pieces.Add(data);
        _bytes += data.Length;
    }

    public void Clear()
    {
        _pieces.Clear();
        _bytes = 0;
    }
}
