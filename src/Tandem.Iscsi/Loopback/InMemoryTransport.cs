using System.Net;
using System.Threading.Tasks.Sources;
using Tandem.Iscsi.Connections;

namespace Tandem.Iscsi.Loopback;

/// <summary>
/// A connection's byte stream kept in process: the far end pushes request bytes with <see cref="Deliver"/>,
/// and every gather-send of the target goes synchronously to an <see cref="ITransportSink"/>. It exists so
/// benchmarks and allocation tests run the real connection, session and send path without sockets, and it
/// allocates nothing per call itself (one reusable receive operation, a fixed inbound buffer), so what they
/// measure is the target's own cost.
/// </summary>
/// <remarks>
/// A waiting receive completes on the thread pool (a socket's receive would continue on the
/// connection's own receive thread), never inside <see cref="Deliver"/>: the far end's thread
/// does not run the target's receive loop.
/// </remarks>
internal sealed class InMemoryTransport : IIscsiTransport, IValueTaskSource<int>
{
    private readonly Lock _sync = new();
    private readonly ITransportSink _sink;
    private readonly byte[] _inbound;
    private int _start;
    private int _end;
    private bool _closed;
    private int _sends;

    // The one outstanding receive (the receive loop never has two).
    private ManualResetValueTaskSourceCore<int> _receive;
    private Memory<byte> _receiveBuffer;
    private bool _receivePending;
    private CancellationTokenRegistration _receiveCancellation;

    /// <param name="sink">Gets every byte the target sends, on the target's send loop.</param>
    /// <param name="inboundCapacity">Request bytes that may be delivered but not yet received.</param>
    public InMemoryTransport(ITransportSink sink, int inboundCapacity = 1024 * 1024)
    {
        _sink = sink;
        _inbound = GC.AllocateUninitializedArray<byte>(inboundCapacity);
        _receive.RunContinuationsAsynchronously = true;
    }

    public IPEndPoint LocalEndPoint { get; } = new(IPAddress.Loopback, 3260);
    public IPEndPoint RemoteEndPoint { get; } = new(IPAddress.Loopback, 50000);

    /// <summary>Queues request bytes for the target (the far end "sends" them).</summary>
    public void Deliver(ReadOnlySpan<byte> bytes)
    {
        lock (_sync)
        {
            if (_closed)
                throw new InvalidOperationException("the connection is closed");
            if (_start == _end)
                _start = _end = 0;
            if (_inbound.Length - _end < bytes.Length)
            {
                // Make room by moving what is not yet received to the front.
                _inbound.AsSpan(_start, _end - _start).CopyTo(_inbound);
                _end -= _start;
                _start = 0;
                if (_inbound.Length - _end < bytes.Length)
                    throw new InvalidOperationException("inbound buffer full: deliver less at once or raise its capacity");
            }
            bytes.CopyTo(_inbound.AsSpan(_end));
            _end += bytes.Length;
            if (!_receivePending)
                return;
            CompleteReceiveLocked(TakeLocked(_receiveBuffer.Span));
        }
    }

    public Task Run(Func<Task> connection) => Task.Run(connection);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);
        lock (_sync)
        {
            if (_receivePending)
                throw new InvalidOperationException("a receive is already pending");
            if (_start < _end)
                return new ValueTask<int>(TakeLocked(buffer.Span));
            if (_closed || buffer.IsEmpty)
                return new ValueTask<int>(0);
            _receive.Reset();
            _receiveBuffer = buffer;
            _receivePending = true;
            if (cancellationToken.CanBeCanceled)
                _receiveCancellation = cancellationToken.UnsafeRegister(static s => ((InMemoryTransport)s!).CancelReceive(), this);
            return new ValueTask<int>(this, _receive.Version);
        }
    }

    /// <summary>Gather-sends the target has made so far (how well it batches its responses).</summary>
    public int Sends => Volatile.Read(ref _sends);

    /// <summary>Hands the whole gather list to the sink, as one send that always completes at once.</summary>
    public ValueTask<int> SendAsync(List<ArraySegment<byte>> segments)
    {
        Interlocked.Increment(ref _sends);
        int total = 0;
        for (int i = 0; i < segments.Count; i++)
        {
            ArraySegment<byte> segment = segments[i];
            _sink.OnSent(segment.AsSpan());
            total += segment.Count;
        }
        return new ValueTask<int>(total);
    }

    /// <summary>Ends the stream: a waiting receive gets end of stream.</summary>
    public void Close()
    {
        lock (_sync)
        {
            if (_closed)
                return;
            _closed = true;
            if (_receivePending)
                CompleteReceiveLocked(0);
        }
        _sink.OnClosed();
    }

    private int TakeLocked(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _end - _start);
        _inbound.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    private void CompleteReceiveLocked(int received)
    {
        _receivePending = false;
        _receiveBuffer = default;
        // Unregister, not Dispose: Dispose would wait for a running cancel callback that waits for our lock.
        _receiveCancellation.Unregister();
        _receiveCancellation = default;
        _receive.SetResult(received);
    }

    private void CancelReceive()
    {
        lock (_sync)
        {
            if (!_receivePending)
                return;
            _receivePending = false;
            _receiveBuffer = default;
            _receiveCancellation = default;
            _receive.SetException(new OperationCanceledException("receive canceled"));
        }
    }

    int IValueTaskSource<int>.GetResult(short token) => _receive.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _receive.GetStatus(token);
    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _receive.OnCompleted(continuation, state, token, flags);
}
