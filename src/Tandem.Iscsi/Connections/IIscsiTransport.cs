using System.Net;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// The byte stream under one iSCSI connection: all a connection needs of a socket. Production runs on
/// <see cref="SocketTransport"/>; benchmarks and allocation tests run on
/// <see cref="Loopback.InMemoryTransport"/>, so the whole PDU → SCSI → PDU path can be measured in process
/// with the same connection, session and send-path code.
/// </summary>
/// <remarks>
/// The receive loop is the only caller of <see cref="ReceiveAsync"/> and the send loop the only caller of
/// <see cref="SendAsync"/>, so an implementation may keep one reusable operation for each direction.
/// </remarks>
internal interface IIscsiTransport
{
    IPEndPoint LocalEndPoint { get; }
    IPEndPoint RemoteEndPoint { get; }

    /// <summary>
    /// Runs a connection (its receive loop) to its end, on the thread the transport receives on:
    /// a socket's own receive thread, the thread pool in process.
    /// </summary>
    Task Run(Func<Task> connection);

    /// <summary>Receives at least one byte into <paramref name="buffer"/>; 0 means the peer ended the stream.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>
    /// Writes every segment, in order, as one gather-send; the result is the number of bytes written. The
    /// caller reuses <paramref name="segments"/> (and the memory they point at) once the send completes.
    /// </summary>
    ValueTask<int> SendAsync(List<ArraySegment<byte>> segments);

    /// <summary>Shuts the stream down both ways and releases it. Idempotent, thread-safe, never throws.</summary>
    void Close();
}
