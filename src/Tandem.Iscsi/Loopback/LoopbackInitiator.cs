using System.Buffers.Binary;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Text;

namespace Tandem.Iscsi.Loopback;

/// <summary>
/// A minimal initiator on the far end of an <see cref="InMemoryTransport"/>, for benchmarks and allocation
/// tests: it logs in through the server's real login code, replays prepared <see cref="CommandBatch"/>es,
/// and scans the target's byte stream for the status of each command without copying or allocating.
/// </summary>
/// <remarks>
/// <see cref="Run"/> blocks the calling thread until every command of the batch has its status, so a
/// synchronous benchmark method measures one full round trip per batch. Data-In payload is skipped,
/// not checked: correctness is the job of the protocol tests.
/// </remarks>
internal sealed class LoopbackInitiator : ITransportSink, IDisposable
{
    public const string InitiatorName = "iqn.2026-11.org.tandem:loopback";

    /// <summary>Implementation limit: a round trip that takes this long means the target is stuck.</summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Our MaxRecvDataSegmentLength: 4 KiB reads come back as one Data-In.</summary>
    private const int MaxRecvDataSegmentLength = 262144;

    private readonly InMemoryTransport _transport;
    private readonly ManualResetEventSlim _batchDone = new();
    private readonly byte[] _header = new byte[IscsiLimits.BhsLength];
    private int _headerFill;
    private int _bodyLeft;
    private bool _headerDigest;
    private bool _askedHeaderDigest;

    // Login: the one response the login step waits for.
    private TaskCompletionSource<(byte[] Header, byte[] Data)>? _loginResponse;
    private byte[]? _loginData;
    private int _loginDataFill;

    // Full feature phase: statuses counted by the send loop, read by Run after the event.
    private int _expected;
    private int _completed;
    private int _failures;
    private uint _cmdSN;
    private uint _itt = 1;

    private LoopbackInitiator()
    {
        _transport = new InMemoryTransport(this);
    }

    /// <summary>Gather-sends the target has made on this connection since it opened.</summary>
    public int TargetSends => _transport.Sends;

    /// <summary>Commands that ended with anything but GOOD (or were rejected) since login.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>
    /// Opens an in-memory connection to <paramref name="server"/> and logs in to <paramref name="targetName"/>
    /// (one Login Request from the operational stage straight to full feature phase, as when no CHAP is set).
    /// </summary>
    public static async Task<LoopbackInitiator> LoginAsync(IscsiServer server, string targetName, bool headerDigest = false)
    {
        var initiator = new LoopbackInitiator();
        server.StartConnection(initiator._transport);
        try
        {
            await initiator.LoginCoreAsync(targetName, headerDigest).ConfigureAwait(false);
        }
        catch
        {
            initiator.Dispose();
            throw;
        }
        return initiator;
    }

    private async Task LoginCoreAsync(string targetName, bool headerDigest)
    {
        byte[] text = TextParameters.Serialize(
        [
            new("InitiatorName", InitiatorName),
            new("TargetName", targetName),
            new("SessionType", "Normal"),
            new("HeaderDigest", headerDigest ? "CRC32C" : "None"),
            new("DataDigest", "None"),
            new("MaxRecvDataSegmentLength", MaxRecvDataSegmentLength.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("InitialR2T", "Yes"),
            new("ImmediateData", "Yes"),
            new("FirstBurstLength", "262144"),
            new("MaxBurstLength", "262144"),
        ]);
        byte[] request = new byte[IscsiLimits.BhsLength + PduMath.Padded(text.Length)];
        var bhs = new Bhs(request);
        request[0] = 0x40 | (byte)Opcode.LoginRequest; // login requests are immediate
        bhs.Flags = (byte)(BhsFlags.Transit | ((byte)LoginStage.OperationalNegotiation << 2) | (byte)LoginStage.FullFeaturePhase);
        bhs.DataSegmentLength = text.Length;
        bhs.Isid = 0x400001370000;
        bhs.InitiatorTaskTag = 0;
        bhs.Word20 = 1u << 16; // CID 1
        bhs.Word24 = _cmdSN;
        text.CopyTo(request, IscsiLimits.BhsLength);

        _askedHeaderDigest = headerDigest;
        _loginResponse = new TaskCompletionSource<(byte[], byte[])>(TaskCreationOptions.RunContinuationsAsynchronously);
        _transport.Deliver(request);
        (byte[] header, byte[] data) = await _loginResponse.Task.WaitAsync(RunTimeout).ConfigureAwait(false);
        var response = new Bhs(header);
        ushort status = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(36));
        if (response.Opcode != Opcode.LoginResponse || status != 0)
            throw new InvalidOperationException($"loopback login failed: opcode {header[0] & 0x3F:x2}, status 0x{status:x4}");
        if ((response.Flags & 0x83) != (BhsFlags.Transit | (byte)LoginStage.FullFeaturePhase))
            throw new InvalidOperationException("loopback login did not reach full feature phase");
        string expectedDigest = headerDigest ? "CRC32C" : "None";
        bool digestAgreed = false;
        foreach (var (key, value) in TextParameters.Parse(data))
        {
            if (key == "HeaderDigest")
                digestAgreed = value == expectedDigest;
            else if (key == "ImmediateData" && value != "Yes")
                throw new InvalidOperationException("loopback login: the target refused immediate data");
        }
        if (!digestAgreed)
            throw new InvalidOperationException($"loopback login: the target did not agree to HeaderDigest={expectedDigest}");
        _cmdSN = response.ExpCmdSN;
    }

    /// <summary><paramref name="count"/> READ(10) commands of <paramref name="blocks"/> blocks each, at consecutive LBAs.</summary>
    public CommandBatch PrepareRead10(uint lba, ushort blocks, int blockSize, int count) =>
        Prepare(0x28, lba, blocks, blockSize, count, write: false);

    /// <summary><paramref name="count"/> WRITE(10) commands, each carrying all its data as immediate data.</summary>
    public CommandBatch PrepareWrite10(uint lba, ushort blocks, int blockSize, int count) =>
        Prepare(0x2A, lba, blocks, blockSize, count, write: true);

    private CommandBatch Prepare(byte operationCode, uint lba, ushort blocks, int blockSize, int count, bool write)
    {
        int length = blocks * blockSize;
        int headerLength = IscsiLimits.BhsLength + (_headerDigest ? IscsiLimits.DigestLength : 0);
        int pduLength = headerLength + (write ? PduMath.Padded(length) : 0);
        var bytes = new byte[pduLength * count];
        var offsets = new int[count];
        for (int i = 0; i < count; i++)
        {
            int offset = i * pduLength;
            offsets[i] = offset;
            var bhs = new Bhs(bytes.AsSpan(offset));
            bhs.Opcode = Opcode.ScsiCommand;
            bhs.Flags = (byte)(BhsFlags.Final | (write ? BhsFlags.Write : BhsFlags.Read) | 1); // ATTR = SIMPLE
            bhs.DataSegmentLength = write ? length : 0;
            bhs.Lun = 0;
            bhs.Word20 = (uint)length; // expected data transfer length
            Span<byte> cdb = bhs.Cdb;
            cdb[0] = operationCode;
            BinaryPrimitives.WriteUInt32BigEndian(cdb[2..], lba + (uint)(i * blocks));
            BinaryPrimitives.WriteUInt16BigEndian(cdb[7..], blocks);
            if (write)
                bytes.AsSpan(offset + headerLength, length).Fill((byte)(0xA0 + i));
        }
        return new CommandBatch(bytes, offsets, _headerDigest);
    }

    /// <summary>Sends the batch as one write and waits until every command in it has its status.</summary>
    public void Run(CommandBatch batch)
    {
        batch.Stamp(ref _cmdSN, ref _itt);
        _batchDone.Reset();
        Volatile.Write(ref _completed, 0);
        Volatile.Write(ref _expected, batch.Count);
        _transport.Deliver(batch.Bytes);
        bool signalled = _batchDone.Wait(RunTimeout);
        int completed = Volatile.Read(ref _completed);
        if (!signalled || completed < batch.Count)
            throw new TimeoutException($"loopback: {completed} of {batch.Count} commands answered");
    }

    // ---- the target's byte stream ------------------------------------------------------------

    void ITransportSink.OnSent(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_headerFill < IscsiLimits.BhsLength)
            {
                int n = Math.Min(bytes.Length, IscsiLimits.BhsLength - _headerFill);
                bytes[..n].CopyTo(_header.AsSpan(_headerFill));
                _headerFill += n;
                bytes = bytes[n..];
                if (_headerFill == IscsiLimits.BhsLength)
                    OnHeader();
                continue;
            }
            int take = Math.Min(bytes.Length, _bodyLeft);
            if (_loginData is not null)
            {
                int room = Math.Min(take, _loginData.Length - _loginDataFill);
                bytes[..room].CopyTo(_loginData.AsSpan(_loginDataFill));
                _loginDataFill += room;
            }
            _bodyLeft -= take;
            bytes = bytes[take..];
            if (_bodyLeft == 0)
                OnPduEnd();
        }
    }

    void ITransportSink.OnClosed()
    {
        _loginResponse?.TrySetException(new InvalidOperationException("the target closed the loopback connection"));
        _batchDone.Set(); // Run sees fewer statuses than it waits for and reports it
    }

    /// <summary>A whole BHS is in: work out how many bytes follow it (AHS, digests, padded data).</summary>
    private void OnHeader()
    {
        var bhs = new Bhs(_header);
        int dataLength = bhs.DataSegmentLength;
        _bodyLeft = bhs.TotalAhsLength + (_headerDigest ? IscsiLimits.DigestLength : 0) + PduMath.Padded(dataLength);
        if (_loginResponse is not null && bhs.Opcode == Opcode.LoginResponse)
        {
            _loginData = new byte[dataLength];
            _loginDataFill = 0;
        }
        if (_bodyLeft == 0)
            OnPduEnd();
    }

    private void OnPduEnd()
    {
        _headerFill = 0;
        var bhs = new Bhs(_header);
        switch (bhs.Opcode)
        {
            case Opcode.LoginResponse when _loginResponse is not null:
                // Digests start with the first PDU after the Login Final-Response (RFC 7143 §13.1).
                _headerDigest = BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(36)) == 0 && _askedHeaderDigest;
                TaskCompletionSource<(byte[], byte[])> login = _loginResponse;
                _loginResponse = null;
                byte[] data = _loginData ?? [];
                _loginData = null;
                login.TrySetResult((_header.ToArray(), data));
                return;
            case Opcode.ScsiResponse:
                CountStatus(bhs.Byte2 == 0 && bhs.Byte3 == 0);
                return;
            case Opcode.ScsiDataIn when (bhs.Flags & BhsFlags.Status) != 0:
                CountStatus(bhs.Byte3 == 0);
                return;
            case Opcode.Reject:
                CountStatus(false);
                return;
        }
    }

    private void CountStatus(bool good)
    {
        if (!good)
            Interlocked.Increment(ref _failures);
        if (Interlocked.Increment(ref _completed) == Volatile.Read(ref _expected))
            _batchDone.Set();
    }

    /// <summary>Drops the connection; the server ends the session as for a lost TCP connection.</summary>
    public void Dispose() => _transport.Close();
}
