using System.Runtime.InteropServices;

namespace Tandem.Replication.Failover;

/// <summary>
/// The system calls the file-share witness needs and .NET does not expose: link(2), the exclusive
/// step that publishes a lease record complete or not at all, and reads that bypass the client's
/// page cache (O_DIRECT) so a network share's cached copy is never taken for the server's.
/// 64-bit Linux only, like the rest of Tandem.
/// </summary>
internal static partial class ShareCalls
{
    private const string Library = "libc";

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EINVAL = 22;
    public const int EPERM = 1;
    public const int EXDEV = 18;
    public const int EMLINK = 31;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;

    private const int O_RDONLY = 0x0;
    private const int O_CLOEXEC = 0x80000;
    // O_DIRECT and O_DIRECTORY are swapped between x86-64 (asm-generic) and arm64.
    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
    private static int O_DIRECT => Arm ? 0x10000 : 0x4000;
    private static int O_DIRECTORY => Arm ? 0x4000 : 0x10000;

    /// <summary>Records are far smaller; one aligned page is what O_DIRECT reads at once.</summary>
    public const int MaxFileBytes = 4096;

    [LibraryImport(Library, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkCall(string existing, string created);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    /// <summary>
    /// link(2): creates <paramref name="created"/> as a second name of <paramref name="existing"/>,
    /// failing with EEXIST when the name is taken (decided by the server, whatever the client
    /// caches). Returns 0 or the errno.
    /// </summary>
    public static int Link(string existing, string created)
    {
        while (true)
        {
            if (LinkCall(existing, created) == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
                return errno;
        }
    }

    /// <summary>Whether a link errno means the file system cannot make hard links at all.</summary>
    public static bool IsLinkUnsupported(int errno) => errno is EPERM or EOPNOTSUPP or ENOSYS or EXDEV or EMLINK;

    /// <summary>
    /// Reads a whole small file through a fresh open (close-to-open: the client revalidates with
    /// the server), with O_DIRECT where the file system takes it (NFS, SMB, ext4) and a plain read
    /// where it refuses (tmpfs). Returns null when the file does not exist; at most
    /// <see cref="MaxFileBytes"/> bytes (a longer file comes back cut, and fails its checksum).
    /// </summary>
    public static unsafe byte[]? ReadSmallFile(string path)
    {
        bool direct = true;
        int fd = Open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
        if (fd < 0 && Marshal.GetLastPInvokeError() == EINVAL)
        {
            direct = false;
            fd = Open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR)
                return null;
            throw Error("open", path, errno);
        }
        // O_DIRECT wants the buffer, length and offset aligned to the device block: one aligned page.
        byte* buffer = (byte*)NativeMemory.AlignedAlloc(MaxFileBytes, MaxFileBytes);
        try
        {
            int total = 0;
            while (total < MaxFileBytes)
            {
                nint read = PRead(fd, buffer + total, (nuint)(MaxFileBytes - total), total);
                if (read < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    throw Error("read", path, errno);
                }
                if (read == 0)
                    break;
                total += (int)read;
                // A direct read returns the whole file at once; a second one would be unaligned.
                if (direct)
                    break;
            }
            return new ReadOnlySpan<byte>(buffer, total).ToArray();
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
            Close(fd);
        }
    }

    /// <summary>fsync a directory so a link or unlink in it is on the server's disk (a no-op where unsupported).</summary>
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

    public static IOException Error(string call, string path, int errno) =>
        new($"{call} failed on '{path}': {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
}
