using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using Tandem.Storage.Native;
using Tandem.Storage.Threading;

namespace Tandem.Storage;

/// <summary>
/// A virtual disk stored in an image file. All I/O goes through <see cref="RandomAccess"/> on one
/// shared <see cref="SafeFileHandle"/> (pread/pwrite, no file position, no FileStream buffering),
/// directly from and into the caller's buffers. Durability comes from fdatasync (page cache is used).
/// </summary>
/// <remarks>
/// Thick images have every byte allocated with fallocate(2) when created or extended, so a write
/// never fails for lack of space. Thin images are sparse: UNMAP punches holes and GET LBA STATUS
/// reports them. The image is locked (flock) while open so a second Tandem cannot serve it too.
/// </remarks>
public sealed class ImageFileDevice : IBlockDevice
{
    /// <summary>
    /// Size of the shared zero buffer used where the filesystem cannot allocate or zero ranges itself
    /// (implementation limit: large enough for few syscalls, small enough to keep resident).
    /// </summary>
    private const int ZeroChunkSize = 1 << 20;

    /// <summary>Only ever read: the source of zeros for fallback writes.</summary>
    private static readonly byte[] s_zeroChunk = new byte[ZeroChunkSize];

    /// <summary>New image files are readable by the service user only: they hold the hosts' data.</summary>
    private const UnixFileMode ImageFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly SafeFileHandle _handle;
    private readonly Lock _resizeLock = new();
    private long _blockCount;
    private int _disposed;
    private volatile bool _cachedReadsUnsupported;

    private ImageFileDevice(SafeFileHandle handle, string imagePath, int blockSize, long blockCount, Provisioning provisioning)
    {
        _handle = handle;
        ImagePath = imagePath;
        BlockSize = blockSize;
        _blockCount = blockCount;
        Provisioning = provisioning;
    }

    /// <summary>Full path of the image file.</summary>
    public string ImagePath { get; }

    public Provisioning Provisioning { get; }

    public int BlockSize { get; }

    public long BlockCount => Volatile.Read(ref _blockCount);

    /// <summary>Size of the device in bytes.</summary>
    public long SizeBytes => BlockCount * BlockSize;

    public bool IsThinProvisioned => Provisioning == Provisioning.Thin;

    /// <summary>Bytes the filesystem has allocated to the image (st_blocks * 512).</summary>
    public long AllocatedBytes => LibC.AllocatedBytes(_handle, ImagePath);

    /// <summary>
    /// Creates a new image file of <paramref name="sizeBytes"/> and opens it. Thick images are fully
    /// allocated (fallocate, or zeros written where the filesystem cannot allocate); thin ones are sparse.
    /// </summary>
    /// <exception cref="ArgumentException">Bad block size or size.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="IOException">The file exists, or there is not enough space.</exception>
    public static ImageFileDevice Create(string imagePath, long sizeBytes, int blockSize, Provisioning provisioning)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imagePath);
        BlockGeometry.ValidateBlockSize(blockSize, nameof(blockSize));
        BlockGeometry.ValidateSize(sizeBytes, blockSize, nameof(sizeBytes));
        ValidateProvisioning(provisioning);

        string fullPath = Path.GetFullPath(imagePath);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"'{imagePath}' is not a file path.", nameof(imagePath));
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot create image '{fullPath}': the folder '{directory}' does not exist.");
        if (File.Exists(fullPath) || Directory.Exists(fullPath))
            throw new IOException($"Cannot create image '{fullPath}': a file with that name already exists.");

        SafeFileHandle handle;
        try
        {
            // CreateNew refuses an existing file atomically (a racing creator loses here).
            handle = File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (File.Exists(fullPath))
        {
            throw new IOException($"Cannot create image '{fullPath}': a file with that name already exists.", e);
        }

        try
        {
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(handle, ImageFileMode);
            if (provisioning == Provisioning.Thick)
                AllocateThick(handle, fullPath, 0, sizeBytes);
            else
                RandomAccess.SetLength(handle, sizeBytes);
            // The new file and its size must survive a crash before anyone records it in a header.
            RandomAccess.FlushToDisk(handle);
            LibC.FSyncDirectory(directory);
        }
        catch
        {
            handle.Dispose();
            TryDelete(fullPath);
            throw;
        }

        return new ImageFileDevice(handle, fullPath, blockSize, sizeBytes / blockSize, provisioning);
    }

    /// <summary>Opens an existing image file.</summary>
    /// <exception cref="ArgumentException">Bad block size.</exception>
    /// <exception cref="FileNotFoundException">The image does not exist.</exception>
    /// <exception cref="InvalidDataException">The file size is not a positive multiple of the block size.</exception>
    /// <exception cref="IOException">The image is open elsewhere (locked) or cannot be opened.</exception>
    public static ImageFileDevice Open(string imagePath, int blockSize, Provisioning provisioning)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imagePath);
        BlockGeometry.ValidateBlockSize(blockSize, nameof(blockSize));
        ValidateProvisioning(provisioning);

        string fullPath = Path.GetFullPath(imagePath);
        if (!File.Exists(fullPath))
            throw new FileNotFoundException($"Image file '{fullPath}' does not exist.", fullPath);

        SafeFileHandle handle;
        try
        {
            // FileShare.None takes an exclusive advisory lock: two services serving one image
            // would corrupt it.
            handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"Cannot open image '{fullPath}': {e.Message}", e);
        }

        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length <= 0 || length % blockSize != 0)
                throw new InvalidDataException(
                    $"Image '{fullPath}' is {length} bytes, which is not a positive multiple of the block size {blockSize}.");
            return new ImageFileDevice(handle, fullPath, blockSize, length / blockSize, provisioning);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <remarks>
    /// Completes synchronously: a read is one pread, which on a page-cache hit costs a few
    /// microseconds, far less than handing it to another thread and back. On a worker a miss
    /// blocks that worker, as a kernel target's I/O thread would. Inside a <see cref="NoWait"/>
    /// scope (a connection's receive loop) the read asks the page cache only (RWF_NOWAIT); a
    /// miss continues on a worker.
    /// </remarks>
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            BlockGeometry.ValidateRange(lba, buffer.Length, BlockSize, BlockCount);
            DeferredWriteRun.WriteOutFor(this); // this thread's own writes, put off to its batch's end, come first
            // The hand-off allocates a task: only on a miss, which costs a disk read anyway.
            if (NoWait.IsActive && !TryReadCached(lba, buffer.Span))
                return ReadOnWorker(lba, buffer);
            Read(lba, buffer);
            return default;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    // The hand-offs live in methods of their own: a lambda over the parameters of ReadAsync or
    // WriteAsync would make every call allocate its closure, hand-off or not.
    private ValueTask ReadOnWorker(long lba, Memory<byte> buffer) => new(Task.Run(() => Read(lba, buffer)));

    private ValueTask WriteOnWorker(long lba, ReadOnlyMemory<byte> data, WriteFlags flags) => new(Task.Run(() => Write(lba, data, flags)));

    /// <summary>True when the whole range came from the page cache.</summary>
    private bool TryReadCached(long lba, Span<byte> buffer)
    {
        if (_cachedReadsUnsupported)
            return false;
        int read = LibC.ReadCached(_handle, buffer, lba * BlockSize, out bool unsupported);
        if (unsupported)
            _cachedReadsUnsupported = true; // this filesystem cannot: every read here goes to a worker
        return read == buffer.Length;
    }

    private void Read(long lba, Memory<byte> buffer)
    {
        long offset = lba * BlockSize;
        int done = 0;
        while (done < buffer.Length)
        {
            int read = RandomAccess.Read(_handle, buffer.Span[done..], offset + done);
            if (read == 0)
            {
                // Past the end of the file (it was shortened behind our back): blocks never written read as zeros.
                buffer.Span[done..].Clear();
                break;
            }
            done += read;
        }
    }

    /// <remarks>
    /// Completes synchronously (one pwrite, plus fdatasync for FUA), for the reason given on
    /// <see cref="ReadAsync"/>. A buffered pwrite copies into the page cache, so it runs inside a
    /// <see cref="NoWait"/> scope too; a FUA write's fdatasync continues on a worker. A write marked
    /// <see cref="WriteFlags.MayDefer"/> that a receive loop runs in its batch completes when the
    /// batch ends, gathered with its adjacent neighbours into one pwritev (<see cref="DeferredWriteRun"/>).
    /// Plain writes are not put off: an iSCSI WRITE that completes on the spot costs no task.
    /// </remarks>
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags = WriteFlags.None, CancellationToken cancellationToken = default)
    {
        try
        {
            BlockGeometry.ValidateRange(lba, data.Length, BlockSize, BlockCount);
            if ((flags & (WriteFlags.MayDefer | WriteFlags.ForceUnitAccess)) == WriteFlags.MayDefer && data.Length > 0
                && DeferredWriteRun.TryDefer(this, lba, data, out ValueTask deferred))
                return deferred;
            if ((flags & WriteFlags.ForceUnitAccess) != 0 && NoWait.IsActive)
                return WriteOnWorker(lba, data, flags);
            Write(lba, data, flags);
            return default;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    /// <remarks>One pwritev, synchronously, like <see cref="WriteAsync"/>.</remarks>
    public ValueTask WriteGatheredAsync(long lba, IReadOnlyList<ReadOnlyMemory<byte>> pieces, CancellationToken cancellationToken = default)
    {
        try
        {
            long bytes = 0;
            for (int i = 0; i < pieces.Count; i++)
            {
                if (pieces[i].Length % BlockSize != 0)
                    throw new ArgumentException($"A piece of {pieces[i].Length} bytes is not whole {BlockSize}-byte blocks.", nameof(pieces));
                bytes += pieces[i].Length;
            }
            BlockGeometry.ValidateRange(lba, bytes, BlockSize, BlockCount);
            WriteGatheredNow(lba, pieces);
            return default;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    /// <summary>Writes validated pieces back to back with one pwritev.</summary>
    internal void WriteGatheredNow(long lba, IReadOnlyList<ReadOnlyMemory<byte>> pieces) =>
        LibC.WriteGathered(_handle, pieces, lba * BlockSize, ImagePath);

    private void Write(long lba, ReadOnlyMemory<byte> data, WriteFlags flags)
    {
        RandomAccess.Write(_handle, data.Span, lba * BlockSize);
        if ((flags & WriteFlags.ForceUnitAccess) != 0)
            LibC.FDataSync(_handle, ImagePath);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // fdatasync blocks for milliseconds: never on the caller's (network) thread.
        await Task.Yield();
        LibC.FDataSync(_handle, ImagePath);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        BlockGeometry.ValidateBlocks(lba, blockCount, BlockCount);
        if (blockCount == 0)
            return;
        long offset = lba * BlockSize;
        long length = blockCount * BlockSize;

        // Thin: release the space. Thick: zero in place but keep the space allocated, so a later
        // write cannot fail for lack of space.
        int mode = IsThinProvisioned
            ? LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE
            : LibC.FALLOC_FL_ZERO_RANGE | LibC.FALLOC_FL_KEEP_SIZE;
        int errno = LibC.FAllocate(_handle, mode, offset, length);
        if (errno == 0)
            return;
        if (!IsUnsupported(errno))
            throw LibC.Error("fallocate", ImagePath, errno);

        // The filesystem cannot punch or zero ranges: write zeros (same result for readers).
        while (length > 0)
        {
            int chunk = (int)Math.Min(length, ZeroChunkSize);
            await RandomAccess.WriteAsync(_handle, s_zeroChunk.AsMemory(0, chunk), offset, cancellationToken).ConfigureAwait(false);
            offset += chunk;
            length -= chunk;
        }
    }

    public ValueTask<LbaExtent> GetLbaStatusAsync(long lba, CancellationToken cancellationToken = default)
    {
        long blockCount = BlockCount;
        if (lba < 0 || lba >= blockCount)
            throw new ArgumentOutOfRangeException(nameof(lba), $"LBA {lba} is outside the device ({blockCount} blocks).");
        cancellationToken.ThrowIfCancellationRequested();

        // Thick images are allocated by definition. (ext4 also reports fallocated-but-unwritten
        // extents as holes to SEEK_DATA, so asking the filesystem would mislead.)
        if (!IsThinProvisioned)
            return new(new LbaExtent(lba, blockCount - lba, Mapped: true));

        return new(ThinExtentAt(lba, blockCount));
    }

    /// <summary>
    /// Finds the run of blocks starting at <paramref name="lba"/> with one allocation state. A block
    /// counts as mapped when any byte of it is data, so runs are rounded outward to whole blocks.
    /// </summary>
    private LbaExtent ThinExtentAt(long lba, long blockCount)
    {
        long offset = lba * BlockSize;
        long end = blockCount * BlockSize;

        long dataStart = LibC.Seek(_handle, offset, LibC.SEEK_DATA, ImagePath);
        if (dataStart < 0 || dataStart >= end)
            return new LbaExtent(lba, blockCount - lba, Mapped: false);

        long firstDataBlock = dataStart / BlockSize;
        if (firstDataBlock > lba)
            return new LbaExtent(lba, firstDataBlock - lba, Mapped: false);

        // lba holds data: it is mapped up to the next hole (end of file is a hole too).
        long holeStart = LibC.Seek(_handle, Math.Max(dataStart, offset), LibC.SEEK_HOLE, ImagePath);
        if (holeStart < 0 || holeStart > end)
            holeStart = end;
        long endBlock = Math.Min((holeStart + BlockSize - 1) / BlockSize, blockCount);
        return new LbaExtent(lba, Math.Max(1, endBlock - lba), Mapped: true);
    }

    public ValueTask ResizeAsync(long newBlockCount, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_resizeLock)
        {
            long oldBlockCount = BlockCount;
            if (newBlockCount < oldBlockCount)
                throw new ArgumentOutOfRangeException(nameof(newBlockCount),
                    $"Cannot shrink '{ImagePath}' from {oldBlockCount} to {newBlockCount} blocks: devices can only grow.");
            if (newBlockCount == oldBlockCount)
                return default;
            if (newBlockCount > long.MaxValue / BlockSize)
                throw new ArgumentOutOfRangeException(nameof(newBlockCount), $"{newBlockCount} blocks of {BlockSize} bytes is too large.");

            long oldSize = oldBlockCount * BlockSize;
            long newSize = newBlockCount * BlockSize;
            try
            {
                if (IsThinProvisioned)
                    RandomAccess.SetLength(_handle, newSize);
                else
                    AllocateThick(_handle, ImagePath, oldSize, newSize - oldSize);
                // The new size must be durable before initiators are told about it.
                RandomAccess.FlushToDisk(_handle);
            }
            catch
            {
                // Leave the device as it was (only bytes past the old end are dropped).
                try { RandomAccess.SetLength(_handle, oldSize); } catch (IOException) { }
                throw;
            }
            // Publish only after the space exists: concurrent I/O range-checks against BlockCount.
            Volatile.Write(ref _blockCount, newBlockCount);
        }
        return default;
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return default;
        try
        {
            // A clean shutdown leaves every completed write on stable storage.
            LibC.FDataSync(_handle, ImagePath);
        }
        finally
        {
            _handle.Dispose();
        }
        return default;
    }

    public override string ToString() => $"{ImagePath} ({Provisioning}, {BlockCount} x {BlockSize} bytes)";

    /// <summary>
    /// Allocates [offset, offset+length) for real, extending the file. Falls back to writing zeros
    /// where the filesystem has no fallocate (not to a sparse SetLength: thick means allocated).
    /// </summary>
    private static void AllocateThick(SafeFileHandle handle, string path, long offset, long length)
    {
        int errno = LibC.FAllocate(handle, 0, offset, length);
        if (errno == 0)
            return;
        if (!IsUnsupported(errno))
            throw LibC.Error("fallocate", path, errno);

        long position = offset;
        long end = offset + length;
        while (position < end)
        {
            int chunk = (int)Math.Min(end - position, ZeroChunkSize);
            RandomAccess.Write(handle, s_zeroChunk.AsSpan(0, chunk), position);
            position += chunk;
        }
    }

    private static bool IsUnsupported(int errno) => errno is LibC.EOPNOTSUPP or LibC.ENOSYS;

    private static void ValidateProvisioning(Provisioning provisioning)
    {
        if (!Enum.IsDefined(provisioning))
            throw new ArgumentException($"Unknown provisioning {(int)provisioning}.", nameof(provisioning));
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
