using Tandem.Storage.Checksums;
using System.Runtime.CompilerServices;
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Sessions;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// One connection over an <see cref="IIscsiTransport"/> (TCP, or in process for benchmarks): a receive
/// loop that parses PDUs in place and dispatches them (this file and its partial siblings, one per
/// protocol area), the single send path (<see cref="PduSender"/>), and the NOP-In keep-alive. Every
/// failure ends only this connection and is logged at debug level.
/// </summary>
internal sealed partial class IscsiConnection : ICommandWindowSource
{
    private readonly IscsiServer _server;
    private readonly IIscsiTransport _transport;
    private readonly ILogger _logger;
    private readonly PduReader _reader;
    private readonly ReceiveBatch _receiveBatch = new();
    private readonly byte[] _header = new byte[IscsiLimits.BhsLength + IscsiLimits.MaxAhsLength];
    private readonly byte[] _trailer = new byte[8]; // padding and data digest
    private readonly CancellationTokenSource _closed = new();
    private byte[] _scratch = [];
    private IscsiSession? _session;
    private SessionParameters _parameters = new();
    private bool _headerDigest;
    private bool _dataDigest;
    private uint _loginCmdSN;
    private long _lastReceiveTicks = Environment.TickCount64;
    private long _pingSentTicks;
    private uint _pingTag;
    private volatile bool _pingOutstanding;

    public IscsiConnection(IscsiServer server, IIscsiTransport transport, ILogger logger)
    {
        _server = server;
        _transport = transport;
        _logger = logger;
        _reader = new PduReader(transport, _receiveBatch);
        LocalEndPoint = transport.LocalEndPoint;
        RemoteEndPoint = transport.RemoteEndPoint;
        Sender = new PduSender(transport, this, _receiveBatch, (uint)Random.Shared.Next(), logger);
    }

    public PduSender Sender { get; }
    public IPEndPoint LocalEndPoint { get; }
    public IPEndPoint RemoteEndPoint { get; }
    public ushort Cid { get; private set; }
    public SessionParameters Parameters => _parameters;

    private IPAddress RemoteAddress => RemoteEndPoint.Address.IsIPv4MappedToIPv6 ? RemoteEndPoint.Address.MapToIPv4() : RemoteEndPoint.Address;

    public void ReadCommandWindow(out uint expCmdSN, out uint maxCmdSN)
    {
        if (_session is IscsiSession session)
        {
            session.ReadCommandWindow(out expCmdSN, out maxCmdSN);
            return;
        }
        expCmdSN = _loginCmdSN;
        maxCmdSN = _loginCmdSN + IscsiLimits.CommandWindow - 1;
    }

    /// <summary>Drops the connection at once (reset, session reinstatement, removed target, server stop).</summary>
    public void Abort()
    {
        try { _closed.Cancel(); } catch (ObjectDisposedException) { }
        _transport.Close();
    }

    /// <summary>Runs the connection to its end; never throws.</summary>
    public async Task RunAsync()
    {
        Sender.Start();
        Task keepAlive = Task.CompletedTask;
        try
        {
            using (var loginDeadline = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token))
            {
                loginDeadline.CancelAfter(_server.Options.LoginTimeout);
                _reader.Cancellation = loginDeadline.Token;
                if (!await LoginPhaseAsync().ConfigureAwait(false))
                    return;
            }
            _reader.Cancellation = _closed.Token;
            keepAlive = KeepAliveAsync();
            await FullFeaturePhaseAsync().ConfigureAwait(false);
        }
        catch (IscsiProtocolException ex)
        {
            _logger.LogDebug("{Remote}: protocol error, dropping the connection: {Message}", RemoteEndPoint, ex.Message);
            if (ex.Reject is RejectReason reason)
                await SendRejectAndCloseAsync(reason).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or EndOfStreamException or SocketException or ObjectDisposedException or IOException)
        {
            _logger.LogDebug("{Remote}: connection ended: {Message}", RemoteEndPoint, ex.Message);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "{Remote}: connection failed", RemoteEndPoint);
        }
        finally
        {
            await CleanupAsync(keepAlive).ConfigureAwait(false);
        }
    }

    private async Task CleanupAsync(Task keepAlive)
    {
        _receiveBatch.End(); // the receive loop is done: nothing may stay put off
        try
        {
            Sender.Complete();
            // Let queued PDUs (a logout response, a reject) leave; a peer that stops reading cannot hold us.
            if (await Task.WhenAny(Sender.Completion, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false) != Sender.Completion)
                _logger.LogDebug("{Remote}: send path did not drain", RemoteEndPoint);
            Abort();
            await Sender.Completion.ConfigureAwait(false);
            await keepAlive.ConfigureAwait(false);
            if (_session is IscsiSession session && ReferenceEquals(session.Connection, this))
                await session.TerminateAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "{Remote}: cleanup failed", RemoteEndPoint);
        }
        finally
        {
            if (_scratch.Length > 0)
                ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = [];
            _closed.Dispose();
            _server.OnConnectionEnded(this);
        }
    }

    // ---- reading ------------------------------------------------------------------------------

    /// <summary>Reads the BHS, AHS and header digest into <see cref="_header"/>. False on a clean end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadHeaderAsync()
    {
        if (!await _reader.ReadAsync(_header.AsMemory(0, IscsiLimits.BhsLength), endOfStreamAllowed: true).ConfigureAwait(false))
            return false;
        int ahsLength = _header[4] * 4;
        if (ahsLength > 0)
            await _reader.ReadAsync(_header.AsMemory(IscsiLimits.BhsLength, ahsLength)).ConfigureAwait(false);
        if (_headerDigest)
        {
            await _reader.ReadAsync(_trailer.AsMemory(0, 4)).ConfigureAwait(false);
            uint expected = Crc32C.Compute(_header.AsSpan(0, IscsiLimits.BhsLength + ahsLength));
            if (Crc32C.Read(_trailer) != expected)
                throw new IscsiProtocolException("header digest error"); // the header cannot be trusted: no Reject
        }
        Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
        return true;
    }

    /// <summary>Reads a data segment into <paramref name="destination"/>, then its padding and digest.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadDataAsync(Memory<byte> destination)
    {
        int length = destination.Length;
        if (length == 0)
            return;
        await _reader.ReadAsync(destination).ConfigureAwait(false);
        int pad = PduMath.Padded(length) - length;
        int trailer = pad + (_dataDigest ? 4 : 0);
        if (trailer > 0)
            await _reader.ReadAsync(_trailer.AsMemory(0, trailer)).ConfigureAwait(false);
        if (_dataDigest)
        {
            uint crc = Crc32C.Append(Crc32C.Seed, destination.Span);
            crc = Crc32C.Append(crc, _trailer.AsSpan(0, pad));
            if (Crc32C.Read(_trailer.AsSpan(pad, 4)) != Crc32C.Finish(crc))
                throw new IscsiProtocolException("data digest error", RejectReason.DataDigestError);
        }
    }

    /// <summary>Reads a data segment of a non-I/O PDU into the connection's scratch buffer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ReadControlDataAsync(int length)
    {
        if (length == 0)
            return ReadOnlyMemory<byte>.Empty;
        if (_scratch.Length < length)
        {
            if (_scratch.Length > 0)
                ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = [];
            _scratch = ArrayPool<byte>.Shared.Rent(length);
        }
        Memory<byte> destination = _scratch.AsMemory(0, length);
        await ReadDataAsync(destination).ConfigureAwait(false);
        return destination;
    }

    private ValueTask SkipDataAsync(int length)
    {
        if (length == 0)
            return ValueTask.CompletedTask;
        return _reader.SkipAsync(PduMath.Padded(length) + (_dataDigest ? 4 : 0));
    }

    private static void CheckDataSegmentLength(int length)
    {
        if (length > IscsiLimits.TargetMaxRecvDataSegmentLength)
            throw new IscsiProtocolException($"data segment of {length} bytes exceeds our MaxRecvDataSegmentLength");
    }

    // ---- sending helpers ----------------------------------------------------------------------

    private static ControlPdu NewControl(Opcode opcode, byte flags = BhsFlags.Final)
    {
        var pdu = new ControlPdu();
        var bhs = new Bhs(pdu.Header);
        bhs.Opcode = opcode;
        bhs.Flags = flags;
        return pdu;
    }

    /// <summary>RFC 7143 §11.17: a Reject carries the rejected header as its data.</summary>
    private ControlPdu BuildReject(RejectReason reason)
    {
        ControlPdu pdu = NewControl(Opcode.Reject);
        var bhs = new Bhs(pdu.Header);
        bhs.Byte2 = (byte)reason;
        bhs.InitiatorTaskTag = IscsiLimits.ReservedTag;
        pdu.Data = _header.AsSpan(0, IscsiLimits.BhsLength).ToArray();
        pdu.DataLength = IscsiLimits.BhsLength;
        return pdu;
    }

    private void SendReject(RejectReason reason)
    {
        _logger.LogDebug("{Remote}: reject ({Reason}) opcode {Opcode:x2}", RemoteEndPoint, reason, _header[0] & 0x3F);
        Sender.Enqueue(BuildReject(reason));
    }

    private async Task SendRejectAndCloseAsync(RejectReason reason)
    {
        ControlPdu pdu = BuildReject(reason);
        pdu.CloseAfterSend = true;
        pdu.Sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Sender.Enqueue(pdu))
            await pdu.Sent.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    // ---- keep-alive ---------------------------------------------------------------------------

    /// <summary>
    /// Sends a NOP-In ping when the initiator has been silent for NopInInterval, and drops the connection
    /// when the ping gets no NOP-Out answer within NopInTimeout (RFC 7143 §11.18, §11.19).
    /// </summary>
    private async Task KeepAliveAsync()
    {
        TimeSpan interval = _server.Options.NopInInterval;
        TimeSpan timeout = _server.Options.NopInTimeout;
        if (interval <= TimeSpan.Zero || timeout <= TimeSpan.Zero || _session is null)
            return;
        TimeSpan period = TimeSpan.FromTicks(Math.Clamp(Math.Min(interval.Ticks, timeout.Ticks) / 4, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromSeconds(1).Ticks));
        try
        {
            using var timer = new PeriodicTimer(period);
            while (await timer.WaitForNextTickAsync(_closed.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                if (_pingOutstanding)
                {
                    if (now - _pingSentTicks >= (long)timeout.TotalMilliseconds)
                    {
                        _logger.LogWarning("{Remote}: no answer to NOP-In within {Timeout}, dropping the connection", RemoteEndPoint, timeout);
                        Abort();
                        return;
                    }
                }
                else if (now - Volatile.Read(ref _lastReceiveTicks) >= (long)interval.TotalMilliseconds)
                {
                    SendPing(now);
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "{Remote}: keep-alive failed", RemoteEndPoint);
        }
    }

    private void SendPing(long now)
    {
        uint tag = _session!.NextTargetTransferTag();
        _pingTag = tag;
        _pingSentTicks = now;
        _pingOutstanding = true;
        ControlPdu ping = NewControl(Opcode.NopIn);
        var bhs = new Bhs(ping.Header);
        bhs.InitiatorTaskTag = IscsiLimits.ReservedTag;
        bhs.TargetTransferTag = tag;
        ping.StatSn = StatSnUse.Current; // an unsolicited NOP-In does not consume a StatSN
        Sender.Enqueue(ping);
    }
}
