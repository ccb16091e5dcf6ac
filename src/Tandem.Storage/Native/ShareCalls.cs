using System.Runtime.InteropServices;

namespace Tandem.Storage.Native;

/// <summary>
/// The system calls a file-share witness needs and .NET does not expose: link(2), the exclusive
/// step that publishes a lease record complete or not at all, and reads that bypass the client's
/// page cache (O_DIRECT) so a network share's cached copy is never taken for the server's.
/// 64-bit Linux only, like the rest of Tandem.
/// </summary>
public static partial class ShareCalls
{
    private const string Library = "libc";

    public const int ENOENT = 2;
    public const int EPERM = 1;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int EMLINK = 31;

    /// <summary>Records are far smaller; one aligned page is what O_DIRECT reads at once.</summary>
    public const int MaxFileBytes = 4096;

    [LibraryImport(Library, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkCall(string existing, string created);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint PRead(int fd, byte* buffer, nuint count, long offset);

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
            if (errno != LibC.EINTR)
                return errno;
        }
    }

    /// <summary>Whether a link errno means the file system cannot make hard links at all.</summary>
    public static bool IsLinkUnsupported(int errno) => errno is EPERM or LibC.EOPNOTSUPP or LibC.ENOSYS or EXDEV or EMLINK;

    /// <summary>
    /// Reads a whole small file through a fresh open (close-to-open: the client revalidates with
    /// the server), with O_DIRECT where the file system takes it (NFS, SMB, ext4) and a plain read
    /// where it refuses (tmpfs). Returns null when the file does not exist; at most
    /// <see cref="MaxFileBytes"/> bytes (a longer file comes back cut, and fails its checksum).
    /// </summary>
    public static unsafe byte[]? ReadSmallFile(string path)
    {
        bool direct = true;
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_DIRECT);
        if (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EINVAL)
        {
            direct = false;
            fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
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
                    if (errno == LibC.EINTR)
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
            LibC.Close(fd);
        }
    }

    /// <summary>fsync a directory so a link or unlink in it is on the server's disk (a no-op where unsupported).</summary>
    public static void FSyncDirectory(string directory) => LibC.FSyncDirectory(directory);

    public static IOException Error(string call, string path, int errno) => LibC.Error(call, path, errno);
}
