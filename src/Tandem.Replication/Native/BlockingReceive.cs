using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tandem.Replication.Native;

/// <summary>
/// A blocking receive on a socket that .NET has made non-blocking (it did the handshake
/// asynchronously): poll(2) then recv(2) on the link's own thread. .NET's synchronous Receive on
/// such a socket waits through its event loop instead, which costs two thread wake-ups per batch;
/// on a replication link that is most of the partner's CPU.
/// </summary>
internal static unsafe partial class BlockingReceive
{
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const short POLLIN = 0x1;
    private const int MSG_DONTWAIT = 0x40;

    /// <summary>How often a waiting receive looks whether the link was closed (poll is not woken by close).</summary>
    private const int PollMilliseconds = 250;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    /// <summary>
    /// Reads at least one byte (0 at end of stream); throws <see cref="SocketException"/> on errors,
    /// once <paramref name="socket"/> is closed, and <see cref="TimeoutException"/> after
    /// <paramref name="timeoutMilliseconds"/> without data (-1: wait for ever).
    /// </summary>
    public static int Receive(Socket socket, Span<byte> buffer, int timeoutMilliseconds = -1)
    {
        long deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        // Holding a reference keeps the descriptor number ours until we return: a concurrent
        // Dispose cannot close it and let another socket reuse the number under our recv.
        handle.DangerousAddRef(ref added);
        try
        {
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* bytes = buffer)
            {
                while (true)
                {
                    nint n = recv(fd, bytes, (nuint)buffer.Length, MSG_DONTWAIT);
                    if (n >= 0)
                        return (int)n;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    if (errno != EAGAIN)
                        throw new SocketException(errno);
                    var wait = new PollFd { Fd = fd, Events = POLLIN };
                    if (poll(&wait, 1, PollMilliseconds) < 0 && Marshal.GetLastPInvokeError() != EINTR)
                        throw new SocketException(Marshal.GetLastPInvokeError());
                    if (socket.SafeHandle.IsClosed)
                        throw new ObjectDisposedException(nameof(Socket));
                    if (Environment.TickCount64 > deadline)
                        throw new TimeoutException("The replication partner sent nothing in time.");
                }
            }
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }
}
