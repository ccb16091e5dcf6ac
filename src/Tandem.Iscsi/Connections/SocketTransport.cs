using System.Net;
using System.Net.Sockets;
using Tandem.Storage.Native;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// A connection's TCP socket, read and written with <see cref="BlockingSocket"/> so that .NET's event
/// loop never sees it. The receive loop runs on the connection's own receive thread, which waits in
/// poll(2) and is woken by the kernel directly when data arrives: one wake-up per arrival, where the
/// event loop costs two (its own, then a thread-pool worker's), and no idle worker spinning for the
/// next one. Sends go out on the thread that has something to send (the receive loop at the end of a
/// batch, or the worker or replication link that completed a command); when the socket is full, the
/// rest waits for room on the connection's send thread instead.
/// </summary>
internal sealed class SocketTransport : IIscsiTransport
{
    private readonly Socket _socket;
    private readonly SocketCallThread _receiveThread;
    private readonly SocketCallThread _sendThread;

    // The receive or send handed to its thread (one at a time per direction).
    private Memory<byte> _receiveBuffer;
    private CancellationToken _receiveCancellation;
    private List<ArraySegment<byte>>? _sendSegments;
    private long _sendSent;

    // A cancellable receive closes the socket when its token fires: poll(2) has no other way out.
    private CancellationToken _watchedToken;
    private CancellationTokenRegistration _watch;

    public SocketTransport(Socket socket)
    {
        _socket = socket;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        string peer = RemoteEndPoint.ToString();
        _receiveThread = new SocketCallThread($"tandem-iscsi-rx {peer}", () => Receive(_receiveBuffer.Span, _receiveCancellation));
        _sendThread = new SocketCallThread($"tandem-iscsi-tx {peer}", SendRest);
    }

    public IPEndPoint LocalEndPoint { get; }
    public IPEndPoint RemoteEndPoint { get; }

    public Task Run(Func<Task> connection)
    {
        var loop = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        _receiveThread.Start(() =>
        {
            try { loop.SetResult(connection()); }
            catch (Exception ex) { loop.SetResult(Task.FromException(ex)); }
        });
        return loop.Task.Unwrap();
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (cancellationToken != _watchedToken)
            Watch(cancellationToken);
        if (_receiveThread.IsCurrent)
        {
            try { return new ValueTask<int>(Receive(buffer.Span, cancellationToken)); }
            catch (Exception ex) { return ValueTask.FromException<int>(ex); }
        }
        // The receive loop went on elsewhere after waiting for something else (a logout's response,
        // task management): it comes back to the receive thread here.
        _receiveBuffer = buffer;
        _receiveCancellation = cancellationToken;
        return _receiveThread.Post();
    }

    private int Receive(Span<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            int received = BlockingSocket.Receive(_socket, buffer);
            cancellationToken.ThrowIfCancellationRequested();
            return received;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private void Watch(CancellationToken cancellationToken)
    {
        _watch.Dispose();
        _watchedToken = cancellationToken;
        _watch = cancellationToken.UnsafeRegister(static state => ((SocketTransport)state!).Close(), this);
    }

    public ValueTask<int> SendAsync(List<ArraySegment<byte>> segments)
    {
        long sent = 0;
        try
        {
            if (_sendThread.IsCurrent)
                sent = BlockingSocket.SendAll(_socket, segments, sent);
            else if (!BlockingSocket.TrySend(_socket, segments, ref sent))
                return WaitForRoom(segments, sent);
            return new ValueTask<int>(checked((int)sent));
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<int>(ex);
        }
    }

    /// <summary>The socket is full: the rest goes out from the send thread, which waits for room.</summary>
    private ValueTask<int> WaitForRoom(List<ArraySegment<byte>> segments, long sent)
    {
        _sendSegments = segments;
        _sendSent = sent;
        return _sendThread.Post();
    }

    private int SendRest()
    {
        List<ArraySegment<byte>> segments = _sendSegments!;
        _sendSegments = null;
        return checked((int)BlockingSocket.SendAll(_socket, segments, _sendSent));
    }

    public void Close()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        try { _socket.Close(); } catch (Exception) { }
        _receiveThread.Stop();
        _sendThread.Stop();
    }
}
