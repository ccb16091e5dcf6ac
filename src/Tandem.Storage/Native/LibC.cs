using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tandem.Storage.Native;

/// <summary>
/// The few Linux system calls .NET does not expose. Every P/Invoke of the storage layer lives
/// here, each with the reason managed code cannot do the job.
/// </summary>
/// <remarks>
/// 64-bit Linux only (off_t is 64 bits, so the plain entry points take 64-bit offsets; musl has no
/// *64 aliases). "libc" is resolved by the runtime to the C library (libc.so.6 on glibc).
/// </remarks>
internal static partial class LibC
{
    private const string Library = "libc";

    // errno values (asm-generic/errno.h) the callers react to.
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENXIO = 6;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;

    // fallocate(2) modes (linux/falloc.h).
    public const int FALLOC_FL_KEEP_SIZE = 0x01;
    public const int FALLOC_FL_PUNCH_HOLE = 0x02;
    public const int FALLOC_FL_ZERO_RANGE = 0x10;

    // preadv2(2) flags (linux/fs.h).
    private const int RWF_NOWAIT = 0x08;

    // lseek(2) whence values for sparse files (unistd.h).
    public const int SEEK_DATA = 3;
    public const int SEEK_HOLE = 4;

    // open(2) flags (asm-generic/fcntl.h). O_DIRECT and O_DIRECTORY are swapped on arm64.
    internal const int O_RDONLY = 0x0;
    internal const int O_CLOEXEC = 0x80000;
    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
    internal static int O_DIRECT => Arm ? 0x10000 : 0x4000;
    internal static int O_DIRECTORY => Arm ? 0x4000 : 0x10000;

    // statx(2): stat the descriptor itself (empty path) and ask for st_blocks only.
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_BLOCKS = 0x400;
    // struct statx has one layout on every architecture (unlike struct stat), which is why
    // statx is used: stx_blocks is the u64 at byte offset 48 of the 256-byte structure.
    private const int StatxSize = 256;
    private const int StatxBlocksOffset = 48;
    // st_blocks counts 512-byte units regardless of the filesystem block size (stat(2)).
    private const long StatBlockUnit = 512;

    /// <summary>
    /// fallocate(2): .NET has no way to allocate real space (FileStream preallocation is
    /// best-effort and SetLength makes a sparse file), punch holes or zero ranges.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FAllocate(int fd, int mode, long offset, long length);

    /// <summary>
    /// fdatasync(2): RandomAccess.FlushToDisk calls fsync, which also writes timestamps (an extra
    /// journal commit on every FUA write) that a block device does not need.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(int fd);

    /// <summary>fsync(2) on a directory: .NET cannot open a directory as a file handle.</summary>
    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(int fd);

    /// <summary>open(2) with O_DIRECTORY: File.OpenHandle refuses directories.</summary>
    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    /// <summary>close(2) for the directory descriptor opened above.</summary>
    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    /// <summary>lseek(2) with SEEK_DATA/SEEK_HOLE: .NET exposes no way to find holes in a sparse file.</summary>
    [LibraryImport(Library, EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    /// <summary>preadv2(2): .NET has no read that refuses to wait for the disk (RWF_NOWAIT).</summary>
    [LibraryImport(Library, EntryPoint = "preadv2", SetLastError = true)]
    private static unsafe partial nint PReadV2(int fd, IoVec* iov, int iovcnt, long offset, int flags);

    /// <summary>
    /// pwritev(2): .NET's gathered write (RandomAccess.Write with a list of buffers) allocates an
    /// array of pins on every call, and the partner's apply path must not allocate per batch.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "pwritev", SetLastError = true)]
    private static unsafe partial nint PWriteV(int fd, IoVec* iov, int iovcnt, long offset);

    /// <summary>statx(2): .NET exposes no allocated size (st_blocks) for a file.</summary>
    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatX(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// fallocate on <paramref name="handle"/>. Returns 0 on success or the errno (EOPNOTSUPP when the
    /// filesystem cannot do it) so callers can choose a fallback; EINTR is retried.
    /// </summary>
    public static int FAllocate(SafeFileHandle handle, int mode, long offset, long length)
    {
        using var fd = new FileDescriptor(handle);
        while (true)
        {
            if (FAllocate(fd.Value, mode, offset, length) == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
                return errno;
        }
    }

    /// <summary>fdatasync; throws <see cref="IOException"/> on failure (a failed sync means lost writes).</summary>
    public static void FDataSync(SafeFileHandle handle, string pathForErrors)
    {
        using var fd = new FileDescriptor(handle);
        while (FDataSync(fd.Value) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
                throw Error("fdatasync", pathForErrors, errno);
        }
    }

    /// <summary>fsync the directory itself so a rename or create in it survives a power loss.</summary>
    public static void FSyncDirectory(string directory)
    {
        int fd = Open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            throw Error("open", directory, Marshal.GetLastPInvokeError());
        try
        {
            while (FSync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                // Some filesystems cannot fsync a directory; the rename is then as durable as they allow.
                if (errno is EINVAL or EOPNOTSUPP)
                    return;
                if (errno != EINTR)
                    throw Error("fsync", directory, errno);
            }
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>
    /// lseek with SEEK_DATA or SEEK_HOLE. Returns the new offset, or -1 when there is no data at or
    /// after <paramref name="offset"/> (ENXIO). Other errors throw.
    /// </summary>
    public static long Seek(SafeFileHandle handle, long offset, int whence, string pathForErrors)
    {
        using var fd = new FileDescriptor(handle);
        long result = LSeek(fd.Value, offset, whence);
        if (result >= 0)
            return result;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ENXIO)
            return -1;
        throw Error("lseek", pathForErrors, errno);
    }

    /// <summary>
    /// Reads from the page cache only (preadv2 with RWF_NOWAIT). Returns the bytes read (fewer than
    /// asked, or -1, when the rest is not cached) or -1 when the file cannot be read this way
    /// (EAGAIN for a miss; EOPNOTSUPP where the filesystem does not support it). Real read errors
    /// are left to the blocking read the caller falls back to, which reports them.
    /// </summary>
    public static unsafe int ReadCached(SafeFileHandle handle, Span<byte> buffer, long offset, out bool unsupported)
    {
        unsupported = false;
        using var fd = new FileDescriptor(handle);
        fixed (byte* p = buffer)
        {
            var iov = new IoVec { Base = p, Length = (nuint)buffer.Length };
            while (true)
            {
                nint read = PReadV2(fd.Value, &iov, 1, offset, RWF_NOWAIT);
                if (read >= 0)
                    return (int)read;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                    continue;
                unsupported = errno is EOPNOTSUPP or ENOSYS or EINVAL;
                return -1;
            }
        }
    }

    /// <summary>Most buffers one <see cref="WriteGathered"/> takes (well under Linux's IOV_MAX of 1024).</summary>
    public const int MaxGatheredBuffers = 64;

    /// <summary>
    /// Writes <paramref name="buffers"/> back to back from <paramref name="offset"/> with pwritev(2),
    /// continuing after short writes; throws <see cref="IOException"/> on failure.
    /// </summary>
    public static unsafe void WriteGathered(SafeFileHandle handle, IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset, string pathForErrors)
    {
        int count = buffers.Count;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxGatheredBuffers, nameof(buffers));
        using var fd = new FileDescriptor(handle);
        IoVec* vectors = stackalloc IoVec[count];
        var pins = new PinnedBuffers(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                ReadOnlyMemory<byte> buffer = buffers[i];
                vectors[i] = new IoVec { Base = (byte*)pins.Pin(i, buffer), Length = (nuint)buffer.Length };
            }
            int next = 0;
            while (next < count)
            {
                nint written = PWriteV(fd.Value, vectors + next, count - next, offset);
                if (written < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    throw Error("pwritev", pathForErrors, errno);
                }
                if (written == 0)
                    throw new IOException($"pwritev wrote nothing to '{pathForErrors}' at offset {offset}.");
                offset += written;
                next = IoVec.Advance(vectors, next, count, (nuint)written);
            }
        }
        finally
        {
            pins.Dispose();
        }
    }

    /// <summary>Up to <see cref="MaxGatheredBuffers"/> pins without a heap allocation.</summary>
    private struct PinnedBuffers(int count)
    {
        private PinArray _pins;
        private readonly int _count = count;

        [System.Runtime.CompilerServices.InlineArray(MaxGatheredBuffers)]
        private struct PinArray
        {
            private System.Buffers.MemoryHandle _first;
        }

        public unsafe void* Pin(int index, ReadOnlyMemory<byte> buffer)
        {
            _pins[index] = buffer.Pin();
            return _pins[index].Pointer;
        }

        public void Dispose()
        {
            for (int i = 0; i < _count; i++)
                _pins[i].Dispose();
        }
    }

    /// <summary>Bytes the filesystem has allocated to the file (st_blocks * 512).</summary>
    public static unsafe long AllocatedBytes(SafeFileHandle handle, string pathForErrors)
    {
        using var fd = new FileDescriptor(handle);
        byte* buffer = stackalloc byte[StatxSize];
        if (StatX(fd.Value, "", AT_EMPTY_PATH, STATX_BLOCKS, buffer) != 0)
            throw Error("statx", pathForErrors, Marshal.GetLastPInvokeError());
        return *(long*)(buffer + StatxBlocksOffset) * StatBlockUnit;
    }

    public static IOException Error(string call, string path, int errno) =>
        new($"{call} failed on '{path}': {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
}
