namespace Tandem.Storage;

/// <summary>
/// A block store addressed in logical blocks: the one interface every storage layer
/// (image file, RAM disk, later caches, journals and the HA device) implements and
/// decorates.
/// </summary>
/// <remarks>
/// Semantics every implementation keeps:
/// <list type="bullet">
/// <item>A completed <see cref="WriteAsync"/> is visible to every later read through this device.
/// It is on stable storage only if <see cref="WriteFlags.ForceUnitAccess"/> was set or a later
/// <see cref="FlushAsync"/> completed.</item>
/// <item>Reads of never-written or unmapped blocks return zeros.</item>
/// <item>Methods are safe to call concurrently; overlapping concurrent writes land in some order
/// (ordering between them is the caller's business).</item>
/// <item>Offsets and lengths are whole blocks; callers (the SCSI layer) have range-checked them.
/// Implementations still refuse a bad range (<see cref="ArgumentOutOfRangeException"/>, or
/// <see cref="ArgumentException"/> for a length that is not whole blocks) rather than touch
/// anything outside the device.</item>
/// <item>Media failures surface as <see cref="IOException"/>; use after dispose as
/// <see cref="ObjectDisposedException"/>.</item>
/// <item><see cref="BlockCount"/> may grow while I/O is in flight (online extend): a read of it is
/// always a size the device has fully provisioned.</item>
/// <item><see cref="IAsyncDisposable.DisposeAsync"/> makes completed writes durable, then releases the
/// store; it is idempotent.</item>
/// <item>Methods may complete synchronously, blocking for the time the I/O takes (a local
/// image does: a pread on a page-cache hit is cheaper than a thread hop). Inside a
/// <see cref="Threading.NoWait"/> scope (a connection's receive loop running a READ or WRITE
/// itself) <see cref="ReadAsync"/> and <see cref="WriteAsync"/> must not wait for the medium: they
/// complete synchronously only when the data is at hand (page cache, RAM) and otherwise continue
/// on a worker. Other methods are never called inside the scope.</item>
/// </list>
/// </remarks>
public interface IBlockDevice : IAsyncDisposable
{
    /// <summary>Logical block size in bytes: 512 or 4096.</summary>
    int BlockSize { get; }

    /// <summary>Number of logical blocks; changes only through <see cref="ResizeAsync"/>.</summary>
    long BlockCount { get; }

    /// <summary>True when blocks can be deallocated (thin provisioning: UNMAP, WRITE SAME with UNMAP, GET LBA STATUS).</summary>
    bool IsThinProvisioned { get; }

    /// <summary>Reads <c>buffer.Length / BlockSize</c> blocks starting at <paramref name="lba"/>.</summary>
    ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes <c>data.Length / BlockSize</c> blocks starting at <paramref name="lba"/>.</summary>
    ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags = WriteFlags.None, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="pieces"/> back to back from <paramref name="lba"/> (each whole blocks,
    /// at most <see cref="AdjacentWrites.MaxPieces"/> of them), as one operation where the store can: a replication partner applies a
    /// batch of adjacent writes this way. The default writes the pieces one after another.
    /// </summary>
    async ValueTask WriteGatheredAsync(long lba, IReadOnlyList<ReadOnlyMemory<byte>> pieces, CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < pieces.Count; i++)
        {
            await WriteAsync(lba, pieces[i], WriteFlags.None, cancellationToken).ConfigureAwait(false);
            lba += pieces[i].Length / BlockSize;
        }
    }

    /// <summary>Makes every completed write durable (SYNCHRONIZE CACHE).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Deallocates blocks so they read back as zeros. On a thin device the space is released;
    /// on a thick device the blocks are zeroed in place.
    /// </summary>
    ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default);

    /// <summary>
    /// Provisioning status of the extent starting at <paramref name="lba"/>: whether it is mapped
    /// and how many following blocks share that status (at least 1, at most to the end of the device).
    /// </summary>
    ValueTask<LbaExtent> GetLbaStatusAsync(long lba, CancellationToken cancellationToken = default);

    /// <summary>Grows the device online to <paramref name="newBlockCount"/> blocks (shrinking is refused).</summary>
    ValueTask ResizeAsync(long newBlockCount, CancellationToken cancellationToken = default);
}

/// <summary>Per-write options.</summary>
[Flags]
public enum WriteFlags
{
    None = 0,
    /// <summary>FUA: the write is on stable storage when it completes.</summary>
    ForceUnitAccess = 1,

    /// <summary>
    /// The caller waits for more than this write anyway (an HA write waits for its partners): a
    /// device may complete it when the receive loop running it ends its batch, gathered with
    /// adjacent writes into one system call. Ignored outside such a loop and with FUA.
    /// </summary>
    MayDefer = 2,
}

/// <summary>A run of blocks with one provisioning status.</summary>
public readonly record struct LbaExtent(long Lba, long BlockCount, bool Mapped);
