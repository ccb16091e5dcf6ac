using System.Net;
using System.Net.Sockets;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// A connection's TCP socket. Receives use the socket's own cached awaitable; sends use one reusable
/// <see cref="SocketSender"/>, so neither direction allocates per call.
/// </summary>
internal sealed class SocketTransport : IIscsiTransport
{
    private readonly Socket _socket;
    private readonly SocketSender _sender = new();

    public SocketTransport(Socket socket)
    {
        _socket = socket;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }
    public IPEndPoint RemoteEndPoint { get; }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public ValueTask<int> SendAsync(List<ArraySegment<byte>> segments) => _sender.SendAsync(_socket, segments);

    public void Close()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        try { _socket.Close(); } catch (Exception) { }
    }
}
