using System.Runtime.CompilerServices;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// Reads a connection's byte stream: small reads (headers, short data) come from a receive buffer,
/// large data segments go straight from the transport into their destination (a task's data buffer).
/// </summary>
internal sealed class PduReader
{
    /// <summary>Implementation limit: receive buffer; reads at least this large bypass it.</summary>
    private const int BufferSize = 64 * 1024;
    private const int DirectThreshold = 16 * 1024;

    private readonly IIscsiTransport _transport;
    private readonly ReceiveBatch _receiveBatch;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
    private int _start;
    private int _end;

    public PduReader(IIscsiTransport transport, ReceiveBatch receiveBatch)
    {
        _transport = transport;
        _receiveBatch = receiveBatch;
    }

    public CancellationToken Cancellation { get; set; }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes. Returns false on a clean end of stream before the first byte.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadAsync(Memory<byte> destination, bool endOfStreamAllowed = false)
    {
        int copied = 0;
        while (copied < destination.Length)
        {
            int buffered = _end - _start;
            if (buffered > 0)
            {
                int n = Math.Min(buffered, destination.Length - copied);
                _buffer.AsSpan(_start, n).CopyTo(destination.Span[copied..]);
                _start += n;
                copied += n;
                continue;
            }
            int remaining = destination.Length - copied;
            int received;
            if (remaining >= DirectThreshold)
            {
                received = await ReceiveAsync(destination[copied..]).ConfigureAwait(false);
                if (received == 0)
                    return EndOfStream(copied, endOfStreamAllowed);
                copied += received;
                continue;
            }
            _start = 0;
            _end = 0;
            received = await ReceiveAsync(_buffer.AsMemory()).ConfigureAwait(false);
            if (received == 0)
                return EndOfStream(copied, endOfStreamAllowed);
            _end = received;
        }
        return true;
    }

    /// <summary>Discards <paramref name="count"/> bytes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SkipAsync(int count)
    {
        while (count > 0)
        {
            int buffered = _end - _start;
            if (buffered == 0)
            {
                _start = 0;
                _end = await ReceiveAsync(_buffer.AsMemory()).ConfigureAwait(false);
                if (_end == 0)
                    throw new EndOfStreamException("connection closed inside a PDU");
                continue;
            }
            int n = Math.Min(buffered, count);
            _start += n;
            count -= n;
        }
    }

    /// <summary>
    /// The one place the reader waits for the socket. What was received before is worked through
    /// by then, so the receive batch ends first (its sends and link flushes go out).
    /// </summary>
    private ValueTask<int> ReceiveAsync(Memory<byte> destination)
    {
        _receiveBatch.End();
        return _transport.ReceiveAsync(destination, Cancellation);
    }

    private static bool EndOfStream(int copied, bool allowed)
    {
        if (copied == 0 && allowed)
            return false;
        throw new EndOfStreamException("connection closed inside a PDU");
    }
}
