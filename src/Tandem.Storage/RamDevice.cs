namespace Tandem.Storage;

/// <summary>
/// A volatile block device in memory (RAM disk for tests and scratch). Storage is a table of
/// 1 MiB chunks allocated on first write, so a large RAM disk costs nothing until written and
/// sizes beyond 2 GiB work; never-written chunks read as zeros.
/// </summary>
/// <remarks>
/// Chunks hang off fixed-size segments that are never replaced, only added by
/// <see cref="ResizeAsync"/>: a chunk installed concurrently with a resize is therefore never
/// lost. Non-overlapping concurrent I/O touches disjoint bytes and needs no lock.
/// </remarks>
public sealed class RamDevice : IBlockDevice
{
    /// <summary>Chunk size: the allocation unit (implementation limit; a power of two, a multiple of 4096).</summary>
    private const int ChunkShift = 20;
    private const int ChunkSize = 1 << ChunkShift;

    /// <summary>Chunks per segment: one segment covers 1 GiB and costs 8 KiB of slots.</summary>
    private const int SegmentShift = 10;
    private const int ChunksPerSegment = 1 << SegmentShift;

    private readonly Lock _resizeLock = new();
    private byte[]?[][] _segments;
    private long _blockCount;
    private long _allocatedChunks;
    private int _disposed;

    /// <summary>Creates a zero-filled RAM disk of <paramref name="sizeBytes"/>.</summary>
    /// <exception cref="ArgumentException">Block size not 512/4096, or size not a positive multiple of it.</exception>
    public RamDevice(long sizeBytes, int blockSize)
    {
        BlockGeometry.ValidateBlockSize(blockSize, nameof(blockSize));
        BlockGeometry.ValidateSize(sizeBytes, blockSize, nameof(sizeBytes));
        BlockSize = blockSize;
        _blockCount = sizeBytes / blockSize;
        _segments = GrowSegments([], sizeBytes);
    }

    public int BlockSize { get; }

    public long BlockCount => Volatile.Read(ref _blockCount);

    /// <summary>Size of the device in bytes.</summary>
    public long SizeBytes => BlockCount * BlockSize;

    /// <summary>RAM disks are not thin: UNMAP zeroes (and frees whole chunks), GET LBA STATUS reports all mapped.</summary>
    public bool IsThinProvisioned => false;

    /// <summary>Bytes of memory holding data.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedChunks) * ChunkSize;

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        BlockGeometry.ValidateRange(lba, buffer.Length, BlockSize, BlockCount);
        cancellationToken.ThrowIfCancellationRequested();
        // After the range check: segments are published before the size grows (see ResizeAsync).
        byte[]?[][] segments = Volatile.Read(ref _segments);
        Span<byte> destination = buffer.Span;
        long offset = lba * BlockSize;
        while (!destination.IsEmpty)
        {
            int within = (int)(offset & (ChunkSize - 1));
            int length = Math.Min(destination.Length, ChunkSize - within);
            byte[]? chunk = Volatile.Read(ref Slot(segments, offset));
            if (chunk is null)
                destination[..length].Clear();
            else
                chunk.AsSpan(within, length).CopyTo(destination);
            destination = destination[length..];
            offset += length;
        }
        return default;
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags = WriteFlags.None, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        BlockGeometry.ValidateRange(lba, data.Length, BlockSize, BlockCount);
        cancellationToken.ThrowIfCancellationRequested();
        // After the range check: segments are published before the size grows (see ResizeAsync).
        byte[]?[][] segments = Volatile.Read(ref _segments);
        ReadOnlySpan<byte> source = data.Span;
        long offset = lba * BlockSize;
        while (!source.IsEmpty)
        {
            int within = (int)(offset & (ChunkSize - 1));
            int length = Math.Min(source.Length, ChunkSize - within);
            byte[] chunk = GetOrAllocateChunk(ref Slot(segments, offset));
            source[..length].CopyTo(chunk.AsSpan(within, length));
            source = source[length..];
            offset += length;
        }
        // FUA: memory is as stable as this device gets.
        return default;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return default;
    }

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        BlockGeometry.ValidateBlocks(lba, blockCount, BlockCount);
        cancellationToken.ThrowIfCancellationRequested();
        // After the range check: segments are published before the size grows (see ResizeAsync).
        byte[]?[][] segments = Volatile.Read(ref _segments);
        long offset = lba * BlockSize;
        long remaining = blockCount * BlockSize;
        while (remaining > 0)
        {
            int within = (int)(offset & (ChunkSize - 1));
            int length = (int)Math.Min(remaining, ChunkSize - within);
            ref byte[]? slot = ref Slot(segments, offset);
            if (length == ChunkSize)
            {
                // The whole chunk is unmapped: give the memory back.
                if (Interlocked.Exchange(ref slot, null) is not null)
                    Interlocked.Decrement(ref _allocatedChunks);
            }
            else
            {
                Volatile.Read(ref slot)?.AsSpan(within, length).Clear();
            }
            offset += length;
            remaining -= length;
        }
        return default;
    }

    public ValueTask<LbaExtent> GetLbaStatusAsync(long lba, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        long blockCount = BlockCount;
        if (lba < 0 || lba >= blockCount)
            throw new ArgumentOutOfRangeException(nameof(lba), $"LBA {lba} is outside the device ({blockCount} blocks).");
        return new(new LbaExtent(lba, blockCount - lba, Mapped: true));
    }

    public ValueTask ResizeAsync(long newBlockCount, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        lock (_resizeLock)
        {
            long oldBlockCount = BlockCount;
            if (newBlockCount < oldBlockCount)
                throw new ArgumentOutOfRangeException(nameof(newBlockCount),
                    $"Cannot shrink the RAM disk from {oldBlockCount} to {newBlockCount} blocks: devices can only grow.");
            if (newBlockCount > long.MaxValue / BlockSize / 2)
                throw new ArgumentOutOfRangeException(nameof(newBlockCount), $"{newBlockCount} blocks of {BlockSize} bytes is too large.");
            // Segments first, then the size: a reader that sees the new size also sees the segments.
            Volatile.Write(ref _segments, GrowSegments(_segments, newBlockCount * BlockSize));
            Volatile.Write(ref _blockCount, newBlockCount);
        }
        return default;
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Volatile.Write(ref _segments, []);
            Volatile.Write(ref _blockCount, 0);
            Interlocked.Exchange(ref _allocatedChunks, 0);
        }
        return default;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static ref byte[]? Slot(byte[]?[][] segments, long offset)
    {
        long chunkIndex = offset >> ChunkShift;
        return ref segments[chunkIndex >> SegmentShift][chunkIndex & (ChunksPerSegment - 1)];
    }

    private byte[] GetOrAllocateChunk(ref byte[]? slot)
    {
        byte[]? chunk = Volatile.Read(ref slot);
        if (chunk is not null)
            return chunk;
        var fresh = new byte[ChunkSize];
        chunk = Interlocked.CompareExchange(ref slot, fresh, null);
        if (chunk is not null)
            return chunk; // another writer to this chunk won the race; use its chunk
        Interlocked.Increment(ref _allocatedChunks);
        return fresh;
    }

    /// <summary>Returns a segment table covering <paramref name="sizeBytes"/> that keeps every existing segment.</summary>
    private static byte[]?[][] GrowSegments(byte[]?[][] existing, long sizeBytes)
    {
        long chunks = (sizeBytes + ChunkSize - 1) >> ChunkShift;
        long segmentCount = (chunks + ChunksPerSegment - 1) >> SegmentShift;
        if (segmentCount <= existing.Length)
            return existing;
        var grown = new byte[]?[(int)segmentCount][];
        Array.Copy(existing, grown, existing.Length);
        for (long i = existing.Length; i < segmentCount; i++)
            grown[i] = new byte[ChunksPerSegment][];
        return grown;
    }
}
