using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>
/// A deliberately small iSCSI initiator written for the tests: one connection, one command at a
/// time, no digests. It exists so tests can do verified I/O with exact control of every PDU and
/// can send malformed PDUs a real initiator never would. It is independent of Tandem's own codec
/// on purpose (a codec bug must not hide itself).
/// </summary>
public sealed class RawInitiator : IAsyncDisposable
{
    public const int BhsLength = 48;
    private const uint NoTag = 0xffffffff;

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private uint _itt = 1;
    private ulong _isid;

    private RawInitiator(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public uint CmdSN { get; private set; } = 1;
    public uint ExpStatSN { get; private set; }
    public int TargetMaxRecvDataSegmentLength { get; private set; } = 8192;
    public int FirstBurstLength { get; private set; } = 65536;
    public bool ImmediateData { get; private set; }
    public bool InitialR2T { get; private set; } = true;

    public static async Task<RawInitiator> ConnectAsync(string host, int port)
    {
        var client = new TcpClient { NoDelay = true, ReceiveTimeout = 30000, SendTimeout = 30000 };
        await client.ConnectAsync(host, port);
        return new RawInitiator(client);
    }

    /// <summary>Logs in to <paramref name="targetName"/> (security stage with AuthMethod=None, then operational).</summary>
    public async Task LoginAsync(string initiatorName, string targetName)
    {
        _isid = 0x80_0000_0000UL | (uint)Random.Shared.Next();
        var security = await LoginStepAsync(csg: 0, nsg: 1, transit: true,
            $"InitiatorName={initiatorName}\0TargetName={targetName}\0SessionType=Normal\0AuthMethod=None\0");
        var stage = (security.Flags >> 2) & 3;
        var keys = $"HeaderDigest=None\0DataDigest=None\0ErrorRecoveryLevel=0\0InitialR2T=No\0ImmediateData=Yes\0" +
                   "MaxBurstLength=262144\0FirstBurstLength=262144\0MaxRecvDataSegmentLength=262144\0MaxConnections=1\0" +
                   "DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0MaxOutstandingR2T=1\0DefaultTime2Wait=2\0DefaultTime2Retain=0\0";
        var response = await LoginStepAsync(csg: 1, nsg: 3, transit: true, keys);
        for (var round = 0; (response.Flags & 0x80) == 0 || ((response.Flags & 3) != 3); round++)
        {
            if (round > 4)
                throw new IOException("login did not reach full feature phase");
            response = await LoginStepAsync(csg: 1, nsg: 3, transit: true, "");
        }
        _ = stage;
    }

    private async Task<Pdu> LoginStepAsync(int csg, int nsg, bool transit, string text)
    {
        var data = Encoding.ASCII.GetBytes(text);
        var bhs = new byte[BhsLength];
        bhs[0] = 0x40 | 0x03;
        bhs[1] = (byte)((transit ? 0x80 : 0) | (csg << 2) | nsg);
        BinaryPrimitives.WriteUInt64BigEndian(bhs.AsSpan(8), _isid << 16);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), _itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), CmdSN);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), ExpStatSN);
        await SendAsync(bhs, data);
        var response = await ReceiveAsync();
        if (response.Opcode != 0x23)
            throw new IOException($"expected a login response, got opcode 0x{response.Opcode:x2}");
        if (response.Bhs[36] != 0)
            throw new LoginRefusedException(response.Bhs[36], response.Bhs[37]);
        ExpStatSN = BinaryPrimitives.ReadUInt32BigEndian(response.Bhs.AsSpan(24)) + 1;
        foreach (var pair in Encoding.ASCII.GetString(response.Data).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq < 0) continue;
            var (key, value) = (pair[..eq], pair[(eq + 1)..]);
            switch (key)
            {
                case "MaxRecvDataSegmentLength": TargetMaxRecvDataSegmentLength = int.Parse(value); break;
                case "FirstBurstLength": FirstBurstLength = int.Parse(value); break;
                case "ImmediateData": ImmediateData = value == "Yes"; break;
                case "InitialR2T": InitialR2T = value == "Yes"; break;
            }
        }
        return response;
    }

    /// <summary>Executes one SCSI command to completion (answering R2Ts and NOP-Ins on the way).</summary>
    public async Task<ScsiResult> ExecuteAsync(ReadOnlyMemory<byte> cdb, ReadOnlyMemory<byte> dataOut = default, int dataInLength = 0)
    {
        var itt = _itt++;
        var bhs = new byte[BhsLength];
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (dataInLength > 0 ? 0x40 : 0) | (dataOut.Length > 0 ? 0x20 : 0) | 1);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), (uint)Math.Max(dataOut.Length, dataInLength));
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), CmdSN++);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), ExpStatSN);
        cdb.Span.CopyTo(bhs.AsSpan(32));

        var immediate = ImmediateData ? Math.Min(dataOut.Length, Math.Min(FirstBurstLength, TargetMaxRecvDataSegmentLength)) : 0;
        await SendAsync(bhs, dataOut[..immediate]);
        if (!InitialR2T && immediate < dataOut.Length)
            await SendDataOutAsync(itt, NoTag, dataOut, immediate, Math.Min(dataOut.Length, FirstBurstLength) - immediate);

        var dataIn = new byte[dataInLength];
        var received = 0;
        while (true)
        {
            var pdu = await ReceiveAsync();
            switch (pdu.Opcode)
            {
                case 0x20: // NOP-In: a ping from the target wants an answer
                    await AnswerNopInAsync(pdu);
                    break;
                case 0x31: // R2T
                    var ttt = BinaryPrimitives.ReadUInt32BigEndian(pdu.Bhs.AsSpan(20));
                    var offset = (int)BinaryPrimitives.ReadUInt32BigEndian(pdu.Bhs.AsSpan(40));
                    var length = (int)BinaryPrimitives.ReadUInt32BigEndian(pdu.Bhs.AsSpan(44));
                    await SendDataOutAsync(itt, ttt, dataOut, offset, length);
                    break;
                case 0x25: // Data-In
                    var bufferOffset = (int)BinaryPrimitives.ReadUInt32BigEndian(pdu.Bhs.AsSpan(40));
                    pdu.Data.CopyTo(dataIn.AsSpan(bufferOffset));
                    received = Math.Max(received, bufferOffset + pdu.Data.Length);
                    if ((pdu.Flags & 0x01) != 0)
                    {
                        ExpStatSN = BinaryPrimitives.ReadUInt32BigEndian(pdu.Bhs.AsSpan(24)) + 1;
                        return new ScsiResult(pdu.Bhs[3], dataIn[..received], []);
                    }
                    break;
                case 0x21: // SCSI Response
                    ExpStatSN = BinaryPrimitives.ReadUInt32BigEndian(pdu.Bhs.AsSpan(24)) + 1;
                    var sense = pdu.Data.Length >= 2 ? pdu.Data.AsSpan(2, BinaryPrimitives.ReadUInt16BigEndian(pdu.Data)).ToArray() : [];
                    return new ScsiResult(pdu.Bhs[3], dataIn[..received], sense);
                case 0x3f:
                    throw new RejectedException(pdu.Bhs[2]);
                default:
                    throw new IOException($"unexpected opcode 0x{pdu.Opcode:x2} while waiting for task {itt}");
            }
        }
    }

    private async Task SendDataOutAsync(uint itt, uint ttt, ReadOnlyMemory<byte> data, int offset, int length)
    {
        var dataSn = 0u;
        var end = offset + length;
        while (offset < end)
        {
            var chunk = Math.Min(end - offset, TargetMaxRecvDataSegmentLength);
            var bhs = new byte[BhsLength];
            bhs[0] = 0x05;
            bhs[1] = (byte)(offset + chunk == end ? 0x80 : 0);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), itt);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), ttt);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), ExpStatSN);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(36), dataSn++);
            BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(40), (uint)offset);
            await SendAsync(bhs, data.Slice(offset, chunk));
            offset += chunk;
        }
    }

    private Task AnswerNopInAsync(Pdu nopIn)
    {
        var ttt = BinaryPrimitives.ReadUInt32BigEndian(nopIn.Bhs.AsSpan(20));
        if (ttt == NoTag)
            return Task.CompletedTask;
        var bhs = new byte[BhsLength];
        bhs[0] = 0x40 | 0x00;
        bhs[1] = 0x80;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), NoTag);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), ttt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), CmdSN);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), ExpStatSN);
        return SendAsync(bhs, default);
    }

    public Task<ScsiResult> Read10Async(uint lba, ushort blocks, int blockSize)
    {
        var cdb = new byte[16];
        cdb[0] = 0x28;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), blocks);
        return ExecuteAsync(cdb, dataInLength: blocks * blockSize);
    }

    public Task<ScsiResult> Write10Async(uint lba, ReadOnlyMemory<byte> data, int blockSize, bool fua = false)
    {
        var cdb = new byte[16];
        cdb[0] = 0x2a;
        cdb[1] = (byte)(fua ? 0x08 : 0);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), (ushort)(data.Length / blockSize));
        return ExecuteAsync(cdb, data);
    }

    public Task<ScsiResult> SynchronizeCache10Async() => ExecuteAsync(new byte[] { 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0 });

    public Task<ScsiResult> TestUnitReadyAsync() => ExecuteAsync(new byte[6]);

    /// <summary>Sends raw bytes as they are: the tool for malformed input.</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Builds a SCSI Command BHS with this session's counters (callers then corrupt what they like).</summary>
    public byte[] BuildCommandHeader(ReadOnlySpan<byte> cdb, uint expectedLength = 0, bool write = false, bool read = false)
    {
        var bhs = new byte[BhsLength];
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 1);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), _itt++);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), expectedLength);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), CmdSN);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), ExpStatSN);
        cdb.CopyTo(bhs.AsSpan(32));
        return bhs;
    }

    /// <summary>Consumes the CmdSN a hand-built command used.</summary>
    public void AdvanceCmdSN() => CmdSN++;

    public async Task SendAsync(byte[] bhs, ReadOnlyMemory<byte> data)
    {
        bhs[5] = (byte)(data.Length >> 16);
        bhs[6] = (byte)(data.Length >> 8);
        bhs[7] = (byte)data.Length;
        var padded = (data.Length + 3) & ~3;
        var frame = new byte[BhsLength + padded];
        bhs.CopyTo(frame, 0);
        data.Span.CopyTo(frame.AsSpan(BhsLength));
        await _stream.WriteAsync(frame);
    }

    /// <summary>Reads one PDU; throws <see cref="EndOfStreamException"/> when the target closed the connection.</summary>
    public async Task<Pdu> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        var bhs = new byte[BhsLength];
        await _stream.ReadExactlyAsync(bhs, cancellationToken);
        var ahs = bhs[4] * 4;
        var length = (bhs[5] << 16) | (bhs[6] << 8) | bhs[7];
        if (ahs > 0)
            await _stream.ReadExactlyAsync(new byte[ahs], cancellationToken);
        var data = new byte[(length + 3) & ~3];
        await _stream.ReadExactlyAsync(data, cancellationToken);
        return new Pdu(bhs, data[..length]);
    }

    /// <summary>True when the target closes the connection (or resets it) within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
                await ReceiveAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or SocketException)
        {
            return true;
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    public sealed record Pdu(byte[] Bhs, byte[] Data)
    {
        public int Opcode => Bhs[0] & 0x3f;
        public byte Flags => Bhs[1];
    }
}

public sealed record ScsiResult(byte Status, byte[] Data, byte[] Sense)
{
    public int SenseKey => Sense.Length > 2 ? Sense[2] & 0x0f : 0;
    public int Asc => Sense.Length > 12 ? Sense[12] : 0;
    public int Ascq => Sense.Length > 13 ? Sense[13] : 0;
    public bool IsGood => Status == 0;

    public override string ToString() => $"status 0x{Status:x2} sense {SenseKey:x}/{Asc:x2}/{Ascq:x2}";
}

public sealed class LoginRefusedException(byte statusClass, byte statusDetail)
    : IOException($"login refused: status class {statusClass}, detail {statusDetail}")
{
    public byte StatusClass { get; } = statusClass;
    public byte StatusDetail { get; } = statusDetail;
}

public sealed class RejectedException(byte reason) : IOException($"target sent Reject, reason 0x{reason:x2}")
{
    public byte Reason { get; } = reason;
}
