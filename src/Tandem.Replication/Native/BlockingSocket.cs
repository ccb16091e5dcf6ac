using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tandem.Replication.Native;

/// <summary>
/// Blocking receive and send for replication links: recv(2)/send(2) on the calling thread, with
/// poll(2) while there is nothing to read or no room to write. A link's socket never sees a .NET
/// asynchronous operation: once it has, .NET registers it with its event loop, and every arrival
/// wakes that loop and a thread-pool worker for nothing (measured: most of a partner's CPU). Its
/// synchronous Receive on such a socket waits through the same loop.
/// </summary>
internal static unsafe partial class BlockingSocket
{
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const short POLLIN = 0x1;
    private const short POLLOUT = 0x4;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;

    /// <summary>How often a waiting call looks whether the socket was closed (poll is not woken by close).</summary>
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

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);

    /// <summary>
    /// Reads at least one byte (0 at end of stream). Throws <see cref="SocketException"/> on errors,
    /// <see cref="ObjectDisposedException"/> once the socket is closed, and
    /// <see cref="TimeoutException"/> after <paramref name="timeoutMilliseconds"/> without data (-1: none).
    /// </summary>
    public static int Receive(Socket socket, Span<byte> buffer, int timeoutMilliseconds = -1)
    {
        long deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        // Holding a reference keeps the descriptor number ours until we return: a concurrent
        // Dispose cannot close it and let another socket reuse the number under our call.
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
                    WaitOrThrow(handle, fd, POLLIN);
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

    /// <summary>Writes all of <paramref name="data"/> to a link's stream: blocking send on a socket, a plain write otherwise (tests).</summary>
    public static void SendAll(Stream stream, ReadOnlySpan<byte> data)
    {
        if (stream is NetworkStream network)
            SendAll(network.Socket, data);
        else
            stream.Write(data);
    }

    /// <summary>Sends every byte, waiting for room as needed.</summary>
    public static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        handle.DangerousAddRef(ref added);
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
                        sent += (int)n;
                    else
                        WaitOrThrow(handle, fd, POLLOUT);
                }
            }
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    /// <summary>After a failed call: returns to retry (interrupted, or ready after waiting), or throws.</summary>
    private static void WaitOrThrow(SafeHandle handle, int fd, short events)
    {
        int errno = Marshal.GetLastPInvokeError();
        if (errno == EINTR)
            return;
        if (errno != EAGAIN)
            throw new SocketException(errno);
        var wait = new PollFd { Fd = fd, Events = events };
        if (poll(&wait, 1, PollMilliseconds) < 0 && Marshal.GetLastPInvokeError() != EINTR)
            throw new SocketException(Marshal.GetLastPInvokeError());
        if (handle.IsClosed)
            throw new ObjectDisposedException(nameof(Socket));
    }
}
