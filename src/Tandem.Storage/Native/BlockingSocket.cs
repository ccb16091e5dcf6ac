using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tandem.Storage.Native;

/// <summary>
/// Socket I/O on the calling thread: recv(2), send(2) and sendmsg(2) without waiting, and poll(2)
/// while there is nothing to read or no room to write. Replication links and iSCSI connections
/// use it, and their sockets never see a .NET asynchronous operation: once one has, .NET registers
/// the socket with its event loop, and every arrival wakes that loop and then a thread-pool worker
/// (measured: most of a replication partner's CPU, and the CPU of a queue-depth-1 iSCSI client).
/// .NET's synchronous calls on such a socket wait through the same loop.
/// </summary>
public static unsafe partial class BlockingSocket
{
    private const short POLLIN = 0x1;
    private const short POLLOUT = 0x4;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int F_GETFL = 3;
    private const int F_SETFL = 4;
    private const int O_NONBLOCK = 0x800;
    private const int SOL_SOCKET = 1;
    private const int SO_RCVTIMEO = 20;

    /// <summary>Linux's IOV_MAX: the most buffers one sendmsg(2) takes.</summary>
    public const int MaxBuffersPerSend = 1024;

    /// <summary>How often a waiting call looks whether the socket was closed (poll is not woken by close).</summary>
    private const int PollMilliseconds = 250;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MsgHdr* message, int flags);

    /// <summary>
    /// Reads at least one byte (0 at end of stream). Throws <see cref="SocketException"/> on errors,
    /// <see cref="ObjectDisposedException"/> once the socket is closed, and
    /// <see cref="TimeoutException"/> after <paramref name="timeoutMilliseconds"/> without data (-1: none).
    /// </summary>
    /// <remarks>
    /// The thread waits inside recv(2) itself: one system call per arrival, where a non-blocking
    /// recv, then poll, then recv again cost three. The socket is switched to blocking reads with a
    /// receive timeout the first time (<see cref="PrepareForWaitingReads"/>), so a waiting read still
    /// returns after <see cref="PollMilliseconds"/> to notice a close or its deadline. Sends are
    /// unaffected: they always pass MSG_DONTWAIT.
    /// </remarks>
    public static int Receive(Socket socket, Span<byte> buffer, int timeoutMilliseconds = -1)
    {
        long deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        SafeHandle handle = socket.SafeHandle;
        using var fd = new FileDescriptor(handle);
        bool waitsInRecv = PrepareForWaitingReads(handle, fd.Value);
        fixed (byte* bytes = buffer)
        {
            while (true)
            {
                nint n = recv(fd.Value, bytes, (nuint)buffer.Length, waitsInRecv ? 0 : MSG_DONTWAIT);
                if (n >= 0)
                    return (int)n;
                // Blocking: the receive timeout elapsed. Non-blocking (not prepared, or switched
                // back by someone): nothing to read. Either way poll, which never spins.
                WaitOrThrow(handle, fd.Value, POLLIN);
                if (Environment.TickCount64 > deadline)
                    throw new TimeoutException("The peer sent nothing in time.");
            }
        }
    }

    /// <summary>Sockets whose reads wait in recv(2) (or, when they could not be set up so, in poll).</summary>
    private static readonly ConditionalWeakTable<SafeHandle, StrongBox<bool>> ReadModes = new();

    /// <summary>
    /// Once per socket: clears O_NONBLOCK (.NET sets it on a socket that ever saw an asynchronous
    /// call, such as ConnectAsync) and sets SO_RCVTIMEO. True when reads may block in recv(2).
    /// </summary>
    private static bool PrepareForWaitingReads(SafeHandle handle, int fd) =>
        ReadModes.TryGetValue(handle, out var known) ? known.Value : PrepareFirstRead(handle, fd);

    /// <summary>The first read of a socket (its own method: the closure below would allocate on every read).</summary>
    private static bool PrepareFirstRead(SafeHandle handle, int fd)
    {
        bool blocking = false;
        int flags = fcntl(fd, F_GETFL, 0);
        if (flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0)
        {
            var timeout = new TimeVal { Seconds = 0, Microseconds = PollMilliseconds * 1000 };
            blocking = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, (uint)sizeof(TimeVal)) == 0;
            if (!blocking)
                fcntl(fd, F_SETFL, flags); // no timeout, no blocking: a close would never wake the read
        }
        return ReadModes.GetValue(handle, _ => new StrongBox<bool>(blocking)).Value;
    }

    /// <summary>Writes all of <paramref name="data"/> to a stream: blocking send on a socket, a plain write otherwise (tests).</summary>
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
        using var fd = new FileDescriptor(handle);
        fixed (byte* bytes = data)
        {
            int sent = 0;
            while (sent < data.Length)
            {
                nint n = send(fd.Value, bytes + sent, (nuint)(data.Length - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n >= 0)
                    sent += (int)n;
                else
                    WaitOrThrow(handle, fd.Value, POLLOUT);
            }
        }
    }

    /// <summary>
    /// Gather-sends <paramref name="segments"/> from byte <paramref name="sent"/> on, without waiting:
    /// true once every byte is sent, false when the socket has no room for the rest
    /// (<paramref name="sent"/> says how far it got). Throws on errors and once the socket is closed.
    /// </summary>
    public static bool TrySend(Socket socket, IReadOnlyList<ArraySegment<byte>> segments, ref long sent) =>
        Send(socket, segments, ref sent, wait: false);

    /// <summary>
    /// Gather-sends <paramref name="segments"/> from byte <paramref name="sent"/> on, waiting for
    /// room as needed; returns the length of the whole list (every byte is then sent).
    /// </summary>
    public static long SendAll(Socket socket, IReadOnlyList<ArraySegment<byte>> segments, long sent)
    {
        Send(socket, segments, ref sent, wait: true);
        return sent;
    }

    private static bool Send(Socket socket, IReadOnlyList<ArraySegment<byte>> segments, ref long sent, bool wait)
    {
        SafeHandle handle = socket.SafeHandle;
        using var fd = new FileDescriptor(handle);
        int first = 0;
        long skip = sent;
        while (first < segments.Count && skip >= segments[first].Count)
        {
            skip -= segments[first].Count;
            first++;
        }
        while (first < segments.Count)
        {
            int count = Math.Min(segments.Count - first, MaxBuffersPerSend);
            if (!SendPinned(handle, fd.Value, segments, first, count, (int)skip, ref sent, wait))
                return false;
            first += count;
            skip = 0;
        }
        return true;
    }

    /// <summary>Sends segments [first, first + count), the first from byte <paramref name="skip"/>, with their arrays pinned.</summary>
    private static bool SendPinned(SafeHandle handle, int fd, IReadOnlyList<ArraySegment<byte>> segments, int first, int count, int skip,
        ref long sent, bool wait)
    {
        Span<GCHandle> pins = stackalloc GCHandle[count];
        IoVec* vectors = stackalloc IoVec[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                ArraySegment<byte> segment = segments[first + i];
                pins[i] = GCHandle.Alloc(segment.Array, GCHandleType.Pinned);
                byte* start = (byte*)pins[i].AddrOfPinnedObject() + segment.Offset;
                int from = i == 0 ? skip : 0;
                vectors[i] = new IoVec { Base = start + from, Length = (nuint)(segment.Count - from) };
            }
            int next = 0;
            while (next < count)
            {
                var message = new MsgHdr { Iov = vectors + next, IovLength = (nuint)(count - next) };
                nint n = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                {
                    if (!wait && Marshal.GetLastPInvokeError() == LibC.EAGAIN)
                        return false;
                    WaitOrThrow(handle, fd, POLLOUT);
                    continue;
                }
                sent += n;
                next = IoVec.Advance(vectors, next, count, (nuint)n);
            }
            return true;
        }
        finally
        {
            foreach (ref GCHandle pin in pins)
            {
                if (pin.IsAllocated)
                    pin.Free();
            }
        }
    }

    /// <summary>After a failed call: returns to retry (interrupted, or ready after waiting), or throws.</summary>
    private static void WaitOrThrow(SafeHandle handle, int fd, short events)
    {
        int errno = Marshal.GetLastPInvokeError();
        if (errno == LibC.EINTR)
            return;
        if (errno != LibC.EAGAIN)
            throw new SocketException(errno);
        var wait = new PollFd { Fd = fd, Events = events };
        if (poll(&wait, 1, PollMilliseconds) < 0 && Marshal.GetLastPInvokeError() != LibC.EINTR)
            throw new SocketException(Marshal.GetLastPInvokeError());
        if (handle.IsClosed)
            throw new ObjectDisposedException(nameof(Socket));
    }
}
