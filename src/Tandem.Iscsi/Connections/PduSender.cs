using Tandem.Storage.Checksums;
using Tandem.Storage.Threading;
using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Pdu;
using Tandem.Scsi.Transport;

namespace Tandem.Iscsi.Connections;

/// <summary>Where the sender reads ExpCmdSN/MaxCmdSN for every PDU it sends.</summary>
internal interface ICommandWindowSource
{
    void ReadCommandWindow(out uint expCmdSN, out uint maxCmdSN);
}

/// <summary>
/// The single send path of a connection. Producers (receive loop, completing tasks, task management,
/// keep-alive) enqueue; one loop drains the queue, builds headers into a pinned arena, assigns StatSN in
/// wire order, fills ExpCmdSN/MaxCmdSN, computes digests, and writes everything queued with one
/// gather-send. Data-In is split by the initiator's MaxRecvDataSegmentLength, and the status is
/// collapsed into the last Data-In when there is no sense data (RFC 7143 §11.7.4).
/// </summary>
internal sealed class PduSender
{
    /// <summary>Implementation limit: header/digest arena per flush.</summary>
    private const int ArenaSize = 64 * 1024;
    /// <summary>Implementation limit: segments per gather-send (Linux IOV_MAX is 1024).</summary>
    private const int MaxSegments = 512;
    /// <summary>Room one PDU needs in the arena: header, header digest, sense segment, padding, data digest.</summary>
    private const int MaxArenaPerPdu = IscsiLimits.BhsLength + 4 + 2 + Scsi.Transport.ScsiCommand.MaxSenseLength + 4 + 4;

    private static readonly byte[] ZeroPadding = new byte[4];

    private readonly IIscsiTransport _transport;
    private readonly ICommandWindowSource _window;
    private readonly ILogger _logger;
    // Synchronous continuations: the thread that completes a task runs the send loop itself when
    // it is idle, instead of waking another worker for it (one thread hop less per response).
    private readonly Channel<Outbound> _queue = Channel.CreateUnbounded<Outbound>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly BurstGate _burstGate = new();
    private readonly ReceiveBatch _receiveBatch;
    private readonly byte[] _arena = GC.AllocateUninitializedArray<byte>(ArenaSize, pinned: true);
    private readonly List<ArraySegment<byte>> _segments = new(MaxSegments);
    private readonly List<ScsiTask> _sentTasks = [];
    private readonly List<ControlPdu> _sentControls = [];
    private int _arenaUsed;
    private bool _closeAfterFlush;

    private bool _headerDigest;
    private bool _dataDigest;
    private int _maxDataSegment = IscsiLimits.DefaultMaxRecvDataSegmentLength;
    private int _maxBurst = 262144;

    public PduSender(IIscsiTransport transport, ICommandWindowSource window, ReceiveBatch receiveBatch, uint initialStatSN, ILogger logger)
    {
        _transport = transport;
        _receiveBatch = receiveBatch;
        _window = window;
        _logger = logger;
        StatSN = initialStatSN;
    }

    /// <summary>The next StatSN to assign. Only the send loop changes it.</summary>
    public uint StatSN { get; private set; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.Run(RunAsync);

    public bool Enqueue(ControlPdu pdu)
    {
        if (_queue.Writer.TryWrite(new Outbound(pdu)))
            return true;
        pdu.Sent?.TrySetResult();
        return false;
    }

    /// <summary>Queues a task's Data-In and status. On false the caller still owns the task reference.</summary>
    public bool Enqueue(ScsiTask task) => _queue.Writer.TryWrite(new Outbound(task));

    public bool Enqueue(in R2TRequest r2t) => _queue.Writer.TryWrite(new Outbound(r2t));

    /// <summary>Stops accepting PDUs; what is queued is still sent.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task RunAsync()
    {
        ChannelReader<Outbound> reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Woken inline by a thread that completes a burst of commands (a replication link
                // finishing the writes a partner acknowledged): wait for the burst to end, so that
                // its responses leave in one send instead of one each.
                if (_burstGate.TryPark())
                    await _burstGate.WaitAsync().ConfigureAwait(false);
                // Woken by the receive loop completing a command (or by anyone while it does):
                // wait until it has worked through what it received, then send it all at once.
                if (_receiveBatch.TryParkSends())
                    await _receiveBatch.WaitAsync().ConfigureAwait(false);
                while (reader.TryRead(out Outbound item))
                {
                    await AppendAsync(item).ConfigureAwait(false);
                    if (_closeAfterFlush)
                        break;
                }
                await FlushAsync().ConfigureAwait(false);
                if (_closeAfterFlush)
                {
                    _transport.Close();
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            _logger.LogDebug("send path ended: {Message}", ex.Message);
            _transport.Close();
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "send path failed");
            _transport.Close();
        }
        finally
        {
            _queue.Writer.TryComplete();
            ReleaseBatch();
            while (reader.TryRead(out Outbound item))
            {
                item.Task?.Release();
                item.Control?.Sent?.TrySetResult();
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AppendAsync(Outbound item)
    {
        if (item.Control is ControlPdu control)
        {
            await EnsureRoomAsync().ConfigureAwait(false);
            AppendControl(control);
        }
        else if (item.Task is ScsiTask task)
        {
            await AppendTaskResponseAsync(task).ConfigureAwait(false);
        }
        else
        {
            await EnsureRoomAsync().ConfigureAwait(false);
            AppendR2T(item.R2T);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EnsureRoomAsync()
    {
        if (_arenaUsed + MaxArenaPerPdu > ArenaSize || _segments.Count + 4 > MaxSegments)
            await FlushAsync().ConfigureAwait(false);
    }

    private void AppendControl(ControlPdu control)
    {
        var bhs = new Bhs(control.Header);
        switch (control.StatSn)
        {
            case StatSnUse.Advance: bhs.StatSN = StatSN++; break;
            case StatSnUse.Current: bhs.StatSN = StatSN; break;
        }
        FillCommandWindow(bhs);
        bhs.DataSegmentLength = control.DataLength;
        AppendHeader(control.Header);
        if (control.DataLength > 0)
            AppendData(new ArraySegment<byte>(control.Data!, 0, control.DataLength));
        _sentControls.Add(control);
        if (control.CloseAfterSend)
            _closeAfterFlush = true;
        if (control.ApplyParametersAfter is SessionParameters p)
        {
            _headerDigest = p.HeaderDigest;
            _dataDigest = p.DataDigest;
            _maxDataSegment = p.InitiatorMaxRecvDataSegmentLength;
            _maxBurst = p.MaxBurstLength;
        }
    }

    /// <summary>Updates the initiator's MaxRecvDataSegmentLength declared in full feature phase (Text request).</summary>
    public void SetInitiatorMaxRecvDataSegmentLength(int value) => _maxDataSegment = value;

    private void AppendR2T(in R2TRequest r2t)
    {
        Span<byte> header = _arena.AsSpan(_arenaUsed, IscsiLimits.BhsLength);
        header.Clear();
        var bhs = new Bhs(header);
        bhs.Opcode = Opcode.ReadyToTransfer;
        bhs.Flags = BhsFlags.Final;
        bhs.Lun = r2t.LunField;
        bhs.InitiatorTaskTag = r2t.InitiatorTaskTag;
        bhs.TargetTransferTag = r2t.TargetTransferTag;
        bhs.StatSN = StatSN;
        FillCommandWindow(bhs);
        bhs.Word36 = r2t.R2TSN;
        bhs.BufferOffset = (uint)r2t.Offset;
        bhs.Word44 = (uint)r2t.Length;
        AppendArenaHeader();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AppendTaskResponseAsync(ScsiTask task)
    {
        try
        {
            await AppendTaskPdusAsync(task).ConfigureAwait(false);
        }
        finally
        {
            // Released after the flush that carries its last byte (a flush inside may not release it).
            _sentTasks.Add(task);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AppendTaskPdusAsync(ScsiTask task)
    {
        ScsiCommand command = task.Command;
        ScsiStatus status = command.Status;
        bool dataAllowed = status is ScsiStatus.Good or ScsiStatus.ConditionMet;
        int dataLength = task.ReadFlag && dataAllowed ? Math.Clamp(command.TransferLength, 0, task.ReadLength) : 0;
        ComputeResidual(task, out byte residualFlags, out uint residual);
        bool collapse = dataLength > 0 && command.SenseLength == 0;

        uint dataSN = 0;
        int offset = 0;
        int burstUsed = 0;
        while (offset < dataLength)
        {
            await EnsureRoomAsync().ConfigureAwait(false);
            int length = Math.Min(_maxDataSegment, dataLength - offset);
            length = Math.Min(length, _maxBurst - burstUsed);
            bool last = offset + length == dataLength;
            burstUsed += length;
            bool endOfBurst = last || burstUsed == _maxBurst;
            if (endOfBurst)
                burstUsed = 0;

            Span<byte> header = _arena.AsSpan(_arenaUsed, IscsiLimits.BhsLength);
            header.Clear();
            var bhs = new Bhs(header);
            bhs.Opcode = Opcode.ScsiDataIn;
            byte flags = endOfBurst ? BhsFlags.Final : (byte)0;
            if (last && collapse)
            {
                flags |= (byte)(BhsFlags.Status | residualFlags);
                bhs.Byte3 = (byte)status;
                bhs.StatSN = StatSN++;
                bhs.Word44 = residual;
            }
            bhs.Flags = flags;
            bhs.DataSegmentLength = length;
            bhs.Lun = task.LunField;
            bhs.InitiatorTaskTag = task.InitiatorTaskTag;
            bhs.TargetTransferTag = IscsiLimits.ReservedTag;
            FillCommandWindow(bhs);
            bhs.DataSN = dataSN++;
            bhs.BufferOffset = (uint)offset;
            AppendArenaHeader();
            AppendData(new ArraySegment<byte>(task.Buffer!, task.WriteLength + offset, length));
            offset += length;
        }

        if (collapse)
            return;

        await EnsureRoomAsync().ConfigureAwait(false);
        Span<byte> response = _arena.AsSpan(_arenaUsed, IscsiLimits.BhsLength);
        response.Clear();
        var rsp = new Bhs(response);
        rsp.Opcode = Opcode.ScsiResponse;
        rsp.Flags = (byte)(BhsFlags.Final | residualFlags);
        rsp.Byte2 = 0; // command completed at target
        rsp.Byte3 = (byte)status;
        int senseLength = command.SenseLength;
        int segmentLength = senseLength > 0 ? senseLength + 2 : 0;
        rsp.DataSegmentLength = segmentLength;
        rsp.InitiatorTaskTag = task.InitiatorTaskTag;
        rsp.StatSN = StatSN++;
        FillCommandWindow(rsp);
        rsp.Word36 = dataSN + (uint)task.R2TCount; // ExpDataSN
        rsp.Word44 = residual;
        AppendArenaHeader();
        if (segmentLength > 0)
        {
            // RFC 7143 §11.4.7: SenseLength (2 bytes) then the sense data, padded.
            int padded = PduMath.Padded(segmentLength);
            Span<byte> segment = _arena.AsSpan(_arenaUsed, padded);
            segment.Clear();
            BinaryPrimitives.WriteUInt16BigEndian(segment, (ushort)senseLength);
            command.Sense.CopyTo(segment[2..]);
            int start = _arenaUsed;
            _arenaUsed += padded;
            if (_dataDigest)
            {
                Crc32C.Write(_arena.AsSpan(_arenaUsed, 4), Crc32C.ComputePadded(segment[..segmentLength]));
                _arenaUsed += 4;
            }
            AddArenaSegment(start);
        }
    }

    /// <summary>RFC 7143 §11.4.5: residual from what the CDB asked to move versus the expected data transfer length.</summary>
    private static void ComputeResidual(ScsiTask task, out byte flags, out uint residual)
    {
        ScsiCommand command = task.Command;
        int expected = command.ExpectedTransferLength;
        int wanted = command.TransferLength;
        flags = 0;
        residual = 0;
        if (wanted > expected)
        {
            flags = BhsFlags.Overflow;
            residual = (uint)(wanted - expected);
        }
        else if (wanted < expected)
        {
            flags = BhsFlags.Underflow;
            residual = (uint)(expected - wanted);
        }
    }

    private void FillCommandWindow(Bhs bhs)
    {
        _window.ReadCommandWindow(out uint exp, out uint max);
        bhs.ExpCmdSN = exp;
        bhs.MaxCmdSN = max;
    }

    /// <summary>Adds a header built in place in the arena, with its digest.</summary>
    private void AppendArenaHeader()
    {
        int start = _arenaUsed;
        _arenaUsed += IscsiLimits.BhsLength;
        if (_headerDigest)
        {
            Crc32C.Write(_arena.AsSpan(_arenaUsed, 4), Crc32C.Compute(_arena.AsSpan(start, IscsiLimits.BhsLength)));
            _arenaUsed += 4;
        }
        AddArenaSegment(start);
    }

    /// <summary>
    /// Adds arena bytes [start, _arenaUsed) to the gather list, extending the previous segment when it ends
    /// where this one starts (back-to-back SCSI Responses, a data digest followed by the next header). Fewer
    /// segments cost nothing on the wire and keep a gather-send within the few iovecs the runtime puts on
    /// the stack; beyond that, each send allocates its iovec arrays.
    /// </summary>
    private void AddArenaSegment(int start)
    {
        int last = _segments.Count - 1;
        if (last >= 0)
        {
            ArraySegment<byte> previous = _segments[last];
            if (previous.Array == _arena && previous.Offset + previous.Count == start)
            {
                _segments[last] = new ArraySegment<byte>(_arena, previous.Offset, _arenaUsed - previous.Offset);
                return;
            }
        }
        _segments.Add(new ArraySegment<byte>(_arena, start, _arenaUsed - start));
    }

    /// <summary>Adds a header that lives elsewhere (control PDUs), copying it into the arena.</summary>
    private void AppendHeader(byte[] header)
    {
        header.AsSpan(0, IscsiLimits.BhsLength).CopyTo(_arena.AsSpan(_arenaUsed));
        AppendArenaHeader();
    }

    private void AppendData(ArraySegment<byte> data)
    {
        _segments.Add(data);
        int pad = PduMath.Padded(data.Count) - data.Count;
        if (pad > 0 && !_dataDigest)
        {
            _segments.Add(new ArraySegment<byte>(ZeroPadding, 0, pad));
            return;
        }
        if (_dataDigest)
        {
            int start = _arenaUsed;
            _arena.AsSpan(_arenaUsed, pad).Clear();
            _arenaUsed += pad;
            Crc32C.Write(_arena.AsSpan(_arenaUsed, 4), Crc32C.ComputePadded(data.AsSpan()));
            _arenaUsed += 4;
            AddArenaSegment(start);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync()
    {
        if (_segments.Count > 0)
        {
            long total = 0;
            foreach (ArraySegment<byte> s in _segments)
                total += s.Count;
            int sent = await _transport.SendAsync(_segments).ConfigureAwait(false);
            if (sent != total)
                throw new IOException($"short send: {sent} of {total} bytes");
        }
        _segments.Clear();
        _arenaUsed = 0;
        ReleaseBatch();
    }

    private void ReleaseBatch()
    {
        foreach (ScsiTask task in _sentTasks)
            task.Release();
        _sentTasks.Clear();
        foreach (ControlPdu control in _sentControls)
            control.Sent?.TrySetResult();
        _sentControls.Clear();
    }
}
