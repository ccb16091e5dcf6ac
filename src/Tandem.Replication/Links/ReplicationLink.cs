using Tandem.Storage.Native;
using System.Diagnostics;
using Tandem.Replication.Wire;
using Tandem.Storage.Threading;

namespace Tandem.Replication.Links;

/// <summary>
/// One authenticated connection between this replica and a peer. Frames are sent in the order they
/// are appended (the ordering scheme relies on FIFO links) and read by one receive loop.
/// </summary>
/// <remarks>
/// Sending: callers append frames to a pending buffer under <see cref="SendLock"/> (shared by every
/// link of the device, so a write's stamp and its frames to all peers are one atomic step, and
/// every header's clock is read in the same order frames are queued), then call
/// <see cref="Flush"/> (<see cref="FlushSoon"/> for client writes, which batch behind the writes
/// already on the wire). One flusher at a time writes whatever has accumulated, so concurrent
/// writers share socket sends. While the receive loop handles a batch, flushing is held back
/// ("corked") so that all replies to the batch leave in one send; it flushes when the batch is done.
/// </remarks>
public sealed class ReplicationLink : IAsyncDisposable, IDeferredFlush
{
    /// <summary>Receive buffer of a link: several resync frames per read (implementation choice).</summary>
    private const int ReceiveBufferBytes = 4 << 20;

    private readonly Stream _stream;
    private readonly FrameReader _reader;
    private readonly ILinkHandler _handler;
    private readonly LinkTimings _timings;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<ulong, PendingReply> _pending = new();
    private FrameBuffer _queued = new();
    private FrameBuffer _sending = new();
    private readonly Action<ReadOnlySpan<byte>> _write; // cached: flushing allocates nothing
    private bool _flushing;
    private bool _corked;
    private int _writesQueued; // under SendLock: writes appended since the last send
    private int _writesOnWire; // writes sent (or being sent) and not answered yet
    private long _writesSent, _writeSends; // under SendLock
    private ulong _nextRequestId;
    private long _lastReceivedTicks;
    private int _down;
    private readonly TaskCompletionSource _received = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _heartbeatLoop = Task.CompletedTask;

    public ReplicationLink(int localId, int peerId, Stream stream, FrameReader reader, ILinkHandler handler, object sendLock, LinkTimings timings)
    {
        LocalId = localId;
        PeerId = peerId;
        _stream = stream;
        _reader = reader;
        _reader.EnsureCapacity(ReceiveBufferBytes);
        _write = Write;
        _handler = handler;
        SendLock = sendLock;
        _timings = timings;
    }

    public int LocalId { get; }
    public int PeerId { get; }

    /// <summary>What the handler keeps for this link's receive loop; touched only on that loop.</summary>
    public object? ReceiveState { get; set; }

    /// <summary>Lock held while appending frames (shared by all links of one device).</summary>
    public object SendLock { get; }

    public bool IsUp => Volatile.Read(ref _down) == 0;

    /// <summary>Writes (and unmaps) sent to the peer so far, and the sends that carried them: how well the link batches.</summary>
    public (long Writes, long Sends) WriteTraffic
    {
        get
        {
            lock (SendLock)
                return (_writesSent, _writeSends);
        }
    }

    /// <summary>Writes queued for the peer and not sent yet: they leave when the writes on the wire are answered.</summary>
    public int WritesWaiting
    {
        get
        {
            lock (SendLock)
                return _writesQueued;
        }
    }

    /// <summary>How long the peer has sent nothing on this link (heartbeats arrive every <see cref="LinkTimings.HeartbeatInterval"/>).</summary>
    public TimeSpan Silence => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceivedTicks));

    /// <summary>Completes when the link is down and its receive thread has ended.</summary>
    public Task Completion => _received.Task;

    /// <summary>
    /// Starts the receive thread and the heartbeat loop. The receive loop runs on a thread of its
    /// own with blocking reads: a link carries a steady stream, and waking a dedicated thread
    /// straight from recv() saves the hop through the socket engine and the thread pool that an
    /// asynchronous read costs on every batch (measured: most of a partner's CPU was context switches).
    /// </summary>
    public void Start()
    {
        _lastReceivedTicks = Stopwatch.GetTimestamp();
        new Thread(ReceiveLoop) { IsBackground = true, Name = $"tandem-rx-{PeerId}" }.Start();
        _heartbeatLoop = Task.Run(HeartbeatLoopAsync);
    }

    /// <summary>
    /// Appends a request; the caller holds <see cref="SendLock"/> and calls <see cref="Flush"/> after
    /// releasing it. The reply arrives through the returned source (LinkDown when the link fails).
    /// </summary>
    public PendingReply AppendRequestLocked<T>(FrameType type, in T payload, byte flags = 0) where T : struct, IPayload
    {
        Debug.Assert(Monitor.IsEntered(SendLock));
        var reply = RegisterLocked(out ulong id);
        if (id != 0)
        {
            _queued.Append(type, flags, id, _handler.CurrentClock, payload);
            if (type is FrameType.Write or FrameType.Unmap)
            {
                reply.AnsweredPromptly = true;
                _writesQueued++;
            }
        }
        return reply;
    }

    /// <summary>A pending reply under a new request id, or one already answered LinkDown (id 0) when the link is down.</summary>
    private PendingReply RegisterLocked(out ulong id)
    {
        var reply = PendingReply.Rent();
        id = ++_nextRequestId;
        lock (_pending)
        {
            if (IsUp)
            {
                _pending.Add(id, reply);
                return reply;
            }
        }
        id = 0;
        reply.Complete(new LinkReply(ReplyStatus.LinkDown));
        return reply;
    }

    /// <summary>Appends a frame that expects no reply (reply, heartbeat); the caller holds <see cref="SendLock"/>.</summary>
    public void AppendLocked<T>(FrameType type, ulong requestId, in T payload) where T : struct, IPayload
    {
        Debug.Assert(Monitor.IsEntered(SendLock));
        if (IsUp)
            _queued.Append(type, 0, requestId, _handler.CurrentClock, payload);
    }

    /// <summary>Sends one request and waits for its reply.</summary>
    public ValueTask<LinkReply> RequestAsync<T>(FrameType type, in T payload) where T : struct, IPayload
    {
        PendingReply reply;
        lock (SendLock)
            reply = AppendRequestLocked(type, payload);
        Flush();
        return reply.Task;
    }

    /// <summary>
    /// Sends a prepared frame (bulk data, checksummed by the caller) and waits for its reply. The
    /// caller returns the frame to its pool only after an answer that is not LinkDown.
    /// </summary>
    public ValueTask<LinkReply> RequestAsync(PreparedFrame frame)
    {
        PendingReply reply;
        lock (SendLock)
        {
            reply = RegisterLocked(out ulong id);
            if (id != 0)
                _queued.Append(frame, 0, id, _handler.CurrentClock);
        }
        Flush();
        return reply.Task;
    }

    /// <summary>Answers a request of the peer.</summary>
    public void Reply(ulong requestId, ReplyStatus status, ReadOnlyMemory<byte> body = default)
    {
        lock (SendLock)
            AppendLocked(FrameType.Reply, requestId, new ReplyPayload(status, body));
        Flush();
    }

    /// <summary>
    /// Writes queued frames on the calling thread unless another thread is already writing (it
    /// will take them too) or the receive loop holds them back for its batch.
    /// </summary>
    public void Flush()
    {
        lock (SendLock)
        {
            if (_flushing || _corked || _queued.Length == 0 || !IsUp)
                return;
            _flushing = true;
        }
        try
        {
            while (true)
            {
                lock (SendLock)
                {
                    if (_queued.Length == 0 || !IsUp)
                    {
                        _flushing = false;
                        return;
                    }
                    (_queued, _sending) = (_sending, _queued);
                    if (_writesQueued > 0)
                    {
                        _writeSends++;
                        _writesSent += _writesQueued;
                        Interlocked.Add(ref _writesOnWire, _writesQueued);
                        _writesQueued = 0;
                    }
                }
                _sending.SendTo(_write);
                _sending.Clear();
            }
        }
        catch (Exception e)
        {
            lock (SendLock)
                _flushing = false;
            Fail(e);
        }
    }

    /// <summary>
    /// Sends queued writes soon, in as few sends as the traffic allows, without a thread of its own
    /// and without delaying a lone write:
    /// <list type="bullet">
    /// <item>while earlier writes are on the wire, their replies are on the way and will wake the
    /// receive thread, which sends whatever has queued when it finishes that batch (the link
    /// clocks itself, like Nagle's algorithm: one send and one wake-up of the partner per round
    /// trip, however many writes arrived meanwhile);</item>
    /// <item>otherwise, called by an iSCSI receive loop working through a batch of commands, the
    /// send waits for the batch's end (<see cref="NoWait.TryDefer"/>);</item>
    /// <item>otherwise the caller sends at once.</item>
    /// </list>
    /// </summary>
    public void FlushSoon()
    {
        // A full fence, paired with the one in CompletePending: either this thread sees the last
        // reply's decrement and sends itself, or that reply's receive batch sees this frame.
        if (Interlocked.CompareExchange(ref _writesOnWire, 0, 0) > 0)
            return;
        if (NoWait.TryDefer(this))
            return;
        Flush();
    }

    private void Write(ReadOnlySpan<byte> bytes) => BlockingSocket.SendAll(_stream, bytes);

    private void ReceiveLoop()
    {
        Exception? reason = null;
        try
        {
            while (_reader.Fill())
            {
                Volatile.Write(ref _lastReceivedTicks, Stopwatch.GetTimestamp());
                lock (SendLock)
                    _corked = true;
                // Replies complete writes inline on this thread, one after another: as a burst,
                // the iSCSI responses they produce leave together when the batch is done.
                CompletionBurst.Begin();
                try
                {
                    while (_reader.TryRead(out var header, out var payload))
                    {
                        if (header.Type == FrameType.Reply)
                        {
                            CompletePending(header.RequestId, payload.Span);
                        }
                        else if (header.Type != FrameType.Heartbeat)
                        {
                            Wait(_handler.HandleRequestAsync(this, header, payload));
                        }
                        _handler.ObservePeerClock(this, header.SenderClock);
                    }
                }
                finally
                {
                    try
                    {
                        // Also when a frame failed: what the handler holds back (locks) must be released.
                        Wait(_handler.EndBatchAsync(this));
                    }
                    finally
                    {
                        CompletionBurst.End();
                        lock (SendLock)
                            _corked = false;
                        Flush();
                    }
                }
            }
        }
        catch (Exception e) when (IsUp)
        {
            reason = e;
        }
        catch (Exception)
        {
            // The link was already taken down (Fail closed the stream under a blocking read).
        }
        Fail(reason);
        _received.TrySetResult();
    }

    /// <summary>
    /// Waits on the receive thread for a request's work (writes to a local image complete
    /// synchronously; anything else, such as a contended range lock, is waited for here: this
    /// thread is the link's own).
    /// </summary>
    private static void Wait(ValueTask work)
    {
        if (work.IsCompletedSuccessfully)
            return;
        CompletionBurst.Flush(); // nothing parked waits on this thread's block
        work.AsTask().GetAwaiter().GetResult();
    }

    private void CompletePending(ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (!ReplyMessage.TryRead(payload, out var status))
            throw new InvalidDataException("Malformed reply: shorter than its status.");
        PendingReply? reply;
        lock (_pending)
        {
            if (!_pending.Remove(requestId, out reply))
                throw new InvalidDataException($"Reply to unknown request {requestId}.");
        }
        if (reply.AnsweredPromptly)
            Interlocked.Decrement(ref _writesOnWire);
        byte[]? body = payload.Length > ReplyMessage.FixedSize ? payload[ReplyMessage.FixedSize..].ToArray() : null;
        reply.Complete(new LinkReply(status, body));
    }

    private async Task HeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(_timings.HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var silence = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceivedTicks));
                if (silence > _timings.Timeout)
                {
                    Fail(new TimeoutException($"Replica {PeerId} sent nothing for {silence.TotalSeconds:0.#} s."));
                    return;
                }
                lock (SendLock)
                    AppendLocked(FrameType.Heartbeat, 0, new EmptyPayload());
                Flush();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // The link is down.
        }
    }

    /// <summary>Takes the link down once: closes the stream, answers pending requests with LinkDown, tells the owner.</summary>
    public void Fail(Exception? reason)
    {
        if (Interlocked.Exchange(ref _down, 1) != 0)
            return;
        _stop.Cancel();
        try
        {
            // Shutdown wakes a receive blocked in poll/recv on the link's thread; closing alone would not.
            if (_stream is System.Net.Sockets.NetworkStream network)
                network.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        }
        catch (Exception)
        {
            // Already closed or reset: the receive thread sees that as well.
        }
        try
        {
            _stream.Dispose();
        }
        catch (Exception)
        {
            // Closing a broken socket may throw; the link is down either way.
        }
        PendingReply[] orphans;
        lock (_pending)
        {
            orphans = [.. _pending.Values];
            _pending.Clear();
        }
        foreach (var reply in orphans)
            reply.Complete(new LinkReply(ReplyStatus.LinkDown));
        _handler.OnLinkDown(this, reason);
    }

    public async ValueTask DisposeAsync()
    {
        Fail(null);
        await Task.WhenAll(_received.Task, _heartbeatLoop).ConfigureAwait(false);
        _stop.Dispose();
    }
}
