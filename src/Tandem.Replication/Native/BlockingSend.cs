using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tandem.Replication.Native;

/// <summary>
/// Sends all bytes on the calling thread: send(2), and poll(2) for room when the socket buffer
/// is full. A link's frames leave from whichever thread queued them (a receive thread answering
/// its batch, a worker completing a write), without a hop through .NET's socket event loop.
/// </summary>
internal static unsafe partial class BlockingSend
{
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const short POLLOUT = 0x4;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;
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
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);

    public static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        handle.DangerousAddRef(ref added); // the descriptor stays ours while we use its number
        try
        {
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* bytes = data)
            {
                int sent = 0;
                while (sent < data.Length)
                {
                    nint n = send(fd, bytes + sent, (nuint)(data.Length - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (n >= 0)
                    {
                        sent += (int)n;
                        continue;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    if (errno != EAGAIN)
                        throw new SocketException(errno);
                    var wait = new PollFd { Fd = fd, Events = POLLOUT };
                    if (poll(&wait, 1, PollMilliseconds) < 0 && Marshal.GetLastPInvokeError() != EINTR)
                        throw new SocketException(Marshal.GetLastPInvokeError());
                    if (handle.IsClosed)
                        throw new ObjectDisposedException(nameof(Socket));
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
