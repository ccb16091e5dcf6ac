using Tandem.Storage.Checksums;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace Tandem.Iscsi.Tests.Support;

/// <summary>A PDU as received: its 48-byte header and data segment.</summary>
public sealed class ReceivedPdu(byte[] header, byte[] data)
{
    public byte[] Header { get; } = header;
    public byte[] Data { get; } = data;
    public byte Opcode => (byte)(Header[0] & 0x3F);
    public byte Flags => Header[1];
    public byte Byte2 => Header[2];
    public byte Byte3 => Header[3];
    public int DataSegmentLength => (Header[5] << 16) | (Header[6] << 8) | Header[7];
    public uint Itt => U32(16);
    public uint Word20 => U32(20);
    public uint StatSN => U32(24);
    public uint ExpCmdSN => U32(28);
    public uint MaxCmdSN => U32(32);
    public uint Word36 => U32(36);
    public uint Word40 => U32(40);
    public uint Word44 => U32(44);
    public ushort Tsih => BinaryPrimitives.ReadUInt16BigEndian(Header.AsSpan(14));
    public ushort LoginStatus => BinaryPrimitives.ReadUInt16BigEndian(Header.AsSpan(36));
    public uint U32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(Header.AsSpan(offset));

    public Dictionary<string, string> Keys()
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string item in Encoding.ASCII.GetString(Data).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=');
            keys[item[..eq]] = item[(eq + 1)..];
        }
        return keys;
    }

    public List<KeyValuePair<string, string>> KeyList() =>
        Encoding.ASCII.GetString(Data).Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(i => new KeyValuePair<string, string>(i[..i.IndexOf('=')], i[(i.IndexOf('=') + 1)..])).ToList();
}

/// <summary>Result of a SCSI command seen from the initiator.</summary>
public sealed class ScsiResult
{
    public byte Status;
    public byte[] Sense = [];
    public byte[] Data = [];
    public byte ResidualFlags;
    public uint Residual;
    public int DataInPdus;
    public int R2Ts;
    public bool StatusInDataIn;
    public List<int> DataInLengths { get; } = [];
}

public sealed class LoginFailedException(ushort status) : Exception($"login failed with status 0x{status:x4}")
{
    public ushort Status { get; } = status;
}

/// <summary>
/// A small iSCSI initiator for tests, written from RFC 7143: login (with CHAP), SCSI commands with
/// immediate/unsolicited/solicited data, NOP, task management, text and logout, plus raw PDU access
/// for bad-input tests.
/// </summary>
public sealed class TestInitiator : IAsyncDisposable
{
    public const string DefaultInitiatorName = "iqn.2026-11.org.tandem:test-initiator";
    private readonly Socket _socket;
    private uint _itt = 0x1000;

    private TestInitiator(Socket socket) => _socket = socket;

    /// <summary>The connection's socket, for tests that drive it without this class (allocation-free I/O).</summary>
    public Socket Socket => _socket;

    public uint CmdSN { get; set; } = 100;
    public uint ExpStatSN { get; set; }
    public uint MaxCmdSN { get; private set; }
    public bool HeaderDigest { get; set; }
    public bool DataDigest { get; set; }
    public int TargetMaxRecvDataSegmentLength { get; private set; } = 8192;
    public int FirstBurstLength { get; private set; } = 65536;
    public int MaxBurstLength { get; private set; } = 262144;
    public bool InitialR2T { get; private set; } = true;
    public bool ImmediateData { get; private set; } = true;
    public ushort Tsih { get; private set; }
    public Dictionary<string, string> NegotiatedKeys { get; } = new(StringComparer.Ordinal);
    public TimeSpan ReceiveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Answer NOP-In pings from the target automatically while waiting for something else.</summary>
    public bool AnswerPings { get; set; } = true;
    public int PingsAnswered;

    /// <param name="receiveBufferSize">Bytes the kernel buffers for this initiator (0: its default); small makes a slow reader.</param>
    public static async Task<TestInitiator> ConnectAsync(IPEndPoint endPoint, int receiveBufferSize = 0)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize > 0)
            socket.ReceiveBufferSize = receiveBufferSize;
        await socket.ConnectAsync(endPoint);
        return new TestInitiator(socket);
    }

    public uint NextItt() => _itt++;

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    // ---- raw PDUs -----------------------------------------------------------------------------

    public static byte[] NewHeader(byte opcode, byte flags, bool immediate = false)
    {
        var h = new byte[48];
        h[0] = (byte)(opcode | (immediate ? 0x40 : 0));
        h[1] = flags;
        return h;
    }

    public static void Put32(byte[] h, int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(offset), value);

    public async Task SendRawAsync(byte[] bytes) => await _socket.SendAsync(bytes);

    public async Task SendAsync(byte[] header, ReadOnlyMemory<byte> data = default, byte[]? ahs = null)
    {
        ahs ??= [];
        header[4] = (byte)(ahs.Length / 4);
        header[5] = (byte)(data.Length >> 16);
        header[6] = (byte)(data.Length >> 8);
        header[7] = (byte)data.Length;
        var pdu = new List<byte>(header);
        pdu.AddRange(ahs);
        if (HeaderDigest)
            pdu.AddRange(DigestBytes(Crc(pdu.ToArray())));
        if (data.Length > 0)
        {
            int padded = (data.Length + 3) & ~3;
            var segment = new byte[padded];
            data.Span.CopyTo(segment);
            pdu.AddRange(segment);
            if (DataDigest)
                pdu.AddRange(DigestBytes(Crc(segment)));
        }
        await _socket.SendAsync(pdu.ToArray());
    }

    public async Task<ReceivedPdu> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? ReceiveTimeout);
        while (true)
        {
            var header = new byte[48];
            await ReadExactAsync(header, cts.Token);
            int ahs = header[4] * 4;
            if (ahs > 0)
                await ReadExactAsync(new byte[ahs], cts.Token);
            if (HeaderDigest)
            {
                var digest = new byte[4];
                await ReadExactAsync(digest, cts.Token);
                if (BinaryPrimitives.ReadUInt32LittleEndian(digest) != Crc(header))
                    throw new InvalidDataException("bad header digest from target");
            }
            int length = (header[5] << 16) | (header[6] << 8) | header[7];
            var data = new byte[length];
            if (length > 0)
            {
                var padded = new byte[(length + 3) & ~3];
                await ReadExactAsync(padded, cts.Token);
                if (DataDigest)
                {
                    var digest = new byte[4];
                    await ReadExactAsync(digest, cts.Token);
                    if (BinaryPrimitives.ReadUInt32LittleEndian(digest) != Crc(padded))
                        throw new InvalidDataException("bad data digest from target");
                }
                Array.Copy(padded, data, length);
            }
            var pdu = new ReceivedPdu(header, data);
            if (pdu.Opcode is 0x21 or 0x22 or 0x24 or 0x26 or 0x3F or 0x23 || (pdu.Opcode == 0x25 && (pdu.Flags & 1) != 0) || (pdu.Opcode == 0x20 && pdu.Itt != 0xFFFFFFFF))
                ExpStatSN = pdu.StatSN + 1;
            if (pdu.Opcode != 0x23)
                MaxCmdSN = pdu.MaxCmdSN;
            if (pdu.Opcode == 0x20 && pdu.Itt == 0xFFFFFFFF && AnswerPings)
            {
                // NOP-In ping from the target: answer with a NOP-Out echoing its TTT (RFC 7143 §11.18).
                byte[] reply = NewHeader(0x00, 0x80, immediate: true);
                Put32(reply, 16, 0xFFFFFFFF);
                Put32(reply, 20, pdu.Word20);
                Put32(reply, 24, CmdSN);
                Put32(reply, 28, ExpStatSN);
                await SendAsync(reply);
                PingsAnswered++;
                continue;
            }
            return pdu;
        }
    }

    /// <summary>True when the target closed the connection (or it was reset) within the timeout.</summary>
    public async Task<bool> IsClosedByTargetAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                    return true;
            }
        }
        catch (OperationCanceledException) { return false; }
        catch (SocketException) { return true; }
    }

    private async Task ReadExactAsync(byte[] buffer, CancellationToken ct)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
            if (n == 0)
                throw new EndOfStreamException("target closed the connection");
            read += n;
        }
    }

    public static uint Crc(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
            crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    private static byte[] DigestBytes(uint crc)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, crc);
        return b;
    }

    // ---- login --------------------------------------------------------------------------------

    public static byte[] EncodeKeys(IEnumerable<KeyValuePair<string, string>> keys) =>
        Encoding.ASCII.GetBytes(string.Concat(keys.Select(k => $"{k.Key}={k.Value}\0")));

    public byte[] LoginHeader(byte flags, ulong isid, ushort tsih, ushort cid = 1)
    {
        byte[] h = NewHeader(0x03, flags, immediate: true);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(8), (ushort)(isid >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(10), (uint)isid);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), tsih);
        Put32(h, 16, 0x77);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(20), cid);
        Put32(h, 24, CmdSN);
        Put32(h, 28, ExpStatSN);
        return h;
    }

    public async Task<ReceivedPdu> LoginStepAsync(byte flags, IEnumerable<KeyValuePair<string, string>> keys, ulong isid, ushort tsih = 0)
    {
        await SendAsync(LoginHeader(flags, isid, tsih), EncodeKeys(keys));
        ReceivedPdu response = await ReceiveAsync();
        if (response.Opcode != 0x23)
            throw new InvalidDataException($"expected a login response, got opcode {response.Opcode:x2}");
        if (response.LoginStatus != 0)
            throw new LoginFailedException(response.LoginStatus);
        foreach (var (k, v) in response.Keys())
            NegotiatedKeys[k] = v;
        return response;
    }

    public const ulong DefaultIsid = 0x400001370000;

    /// <summary>Logs in to full feature phase. Null target name means a discovery session.</summary>
    public async Task LoginAsync(
        string? targetName,
        IReadOnlyDictionary<string, string>? operational = null,
        string initiatorName = DefaultInitiatorName,
        (string User, string Secret)? chap = null,
        (string User, string Secret)? mutualChap = null,
        ulong isid = DefaultIsid,
        ushort tsih = 0,
        string chapAlgorithms = "5")
    {
        var identity = new List<KeyValuePair<string, string>> { new("InitiatorName", initiatorName) };
        identity.Add(targetName is null ? new("SessionType", "Discovery") : new("TargetName", targetName));
        if (targetName is not null)
            identity.Add(new("SessionType", "Normal"));

        var keys = new List<KeyValuePair<string, string>>();
        if (chap is { } credentials)
        {
            ReceivedPdu r = await LoginStepAsync(0x80 | 0x01, [.. identity, new("AuthMethod", "CHAP,None")], isid, tsih);
            if (r.Keys()["AuthMethod"] != "CHAP")
                throw new InvalidDataException("target did not choose CHAP");
            r = await LoginStepAsync(0x00, [new("CHAP_A", chapAlgorithms)], isid, tsih);
            var k = r.Keys();
            int algorithm = int.Parse(k["CHAP_A"], CultureInfo.InvariantCulture);
            byte id = byte.Parse(k["CHAP_I"], CultureInfo.InvariantCulture);
            byte[] challenge = Convert.FromHexString(k["CHAP_C"][2..]);
            byte[] response = ChapResponse(algorithm, id, credentials.Secret, challenge);
            var answer = new List<KeyValuePair<string, string>> { new("CHAP_N", credentials.User), new("CHAP_R", "0x" + Convert.ToHexString(response)) };
            byte mutualId = 0x42;
            byte[] mutualChallenge = RandomNumberGenerator.GetBytes(16);
            if (mutualChap is not null)
            {
                answer.Add(new("CHAP_I", mutualId.ToString(CultureInfo.InvariantCulture)));
                answer.Add(new("CHAP_C", "0x" + Convert.ToHexString(mutualChallenge)));
            }
            r = await LoginStepAsync(0x80 | 0x01, answer, isid, tsih);
            if (mutualChap is { } m)
            {
                var rk = r.Keys();
                byte[] expected = ChapResponse(algorithm, mutualId, m.Secret, mutualChallenge);
                if (rk["CHAP_N"] != m.User || !Convert.FromHexString(rk["CHAP_R"][2..]).SequenceEqual(expected))
                    throw new InvalidDataException("target failed mutual CHAP");
            }
        }
        else
        {
            keys.AddRange(identity);
        }

        var defaults = new Dictionary<string, string>
        {
            ["HeaderDigest"] = HeaderDigest ? "CRC32C,None" : "None",
            ["DataDigest"] = DataDigest ? "CRC32C,None" : "None",
            ["MaxRecvDataSegmentLength"] = "65536",
        };
        if (targetName is not null)
        {
            defaults["InitialR2T"] = "No";
            defaults["ImmediateData"] = "Yes";
            defaults["MaxBurstLength"] = "262144";
            defaults["FirstBurstLength"] = "65536";
            defaults["MaxOutstandingR2T"] = "1";
        }
        foreach (var (k, v) in operational ?? new Dictionary<string, string>())
            defaults[k] = v;
        keys.AddRange(defaults);
        HeaderDigest = false;
        DataDigest = false;
        ReceivedPdu final = await LoginStepAsync(0x80 | 0x04 | 0x03, keys, isid, tsih);
        if ((final.Flags & 0x83) != 0x83)
            throw new InvalidDataException("target did not move to full feature phase");
        Tsih = final.Tsih;
        MaxCmdSN = final.MaxCmdSN;
        var n = NegotiatedKeys;
        HeaderDigest = n.GetValueOrDefault("HeaderDigest") == "CRC32C";
        DataDigest = n.GetValueOrDefault("DataDigest") == "CRC32C";
        if (n.TryGetValue("MaxRecvDataSegmentLength", out string? mrdsl))
            TargetMaxRecvDataSegmentLength = int.Parse(mrdsl, CultureInfo.InvariantCulture);
        if (n.TryGetValue("FirstBurstLength", out string? fbl) && int.TryParse(fbl, out int f)) FirstBurstLength = f;
        if (n.TryGetValue("MaxBurstLength", out string? mbl) && int.TryParse(mbl, out int mb)) MaxBurstLength = mb;
        if (n.TryGetValue("InitialR2T", out string? ir2t)) InitialR2T = ir2t == "Yes";
        if (n.TryGetValue("ImmediateData", out string? imm)) ImmediateData = imm == "Yes";
    }

    public static byte[] ChapResponse(int algorithm, byte id, string secret, byte[] challenge)
    {
        byte[] input = [id, .. Encoding.UTF8.GetBytes(secret), .. challenge];
        return algorithm == 5 ? MD5.HashData(input) : SHA256.HashData(input);
    }

    // ---- full feature phase -------------------------------------------------------------------

    public byte[] CommandHeader(byte[] cdb, int expectedLength, bool read, bool write, ulong lun = 0, bool final = true, uint? itt = null, bool immediate = false, byte attribute = 1)
    {
        byte flags = (byte)((final ? 0x80 : 0) | (read ? 0x40 : 0) | (write ? 0x20 : 0) | attribute);
        byte[] h = NewHeader(0x01, flags, immediate);
        BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(8), lun << 48);
        Put32(h, 16, itt ?? NextItt());
        Put32(h, 20, (uint)expectedLength);
        Put32(h, 24, immediate ? CmdSN : CmdSN++);
        Put32(h, 28, ExpStatSN);
        cdb.AsSpan(0, Math.Min(16, cdb.Length)).CopyTo(h.AsSpan(32));
        return h;
    }

    public static byte[] Read10(uint lba, ushort blocks)
    {
        var cdb = new byte[10];
        cdb[0] = 0x28;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), blocks);
        return cdb;
    }

    public static byte[] Write10(uint lba, ushort blocks)
    {
        byte[] cdb = Read10(lba, blocks);
        cdb[0] = 0x2A;
        return cdb;
    }

    /// <summary>Sends a command (no data-out) and collects Data-In and status.</summary>
    public async Task<ScsiResult> ReadCommandAsync(byte[] cdb, int expectedLength, ulong lun = 0)
    {
        byte[] h = CommandHeader(cdb, expectedLength, read: expectedLength > 0, write: false, lun);
        await SendAsync(h);
        return await CollectAsync(BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16)), [], 0);
    }

    public Task<ScsiResult> ReadAsync(uint lba, ushort blocks) => ReadCommandAsync(Read10(lba, blocks), blocks * RamScsiTarget.BlockSize);

    public Task<ScsiResult> TestUnitReadyAsync() => ReadCommandAsync(new byte[6], 0);

    /// <summary>Sends a write with immediate, unsolicited and solicited data as negotiated.</summary>
    public async Task<ScsiResult> WriteCommandAsync(byte[] cdb, byte[] data, int? expectedLength = null)
    {
        int edtl = expectedLength ?? data.Length;
        uint itt = await SendWriteAsync(cdb, data, edtl);
        return await CollectAsync(itt, data, edtl);
    }

    public Task<ScsiResult> WriteAsync(uint lba, byte[] data) => WriteCommandAsync(Write10(lba, (ushort)(data.Length / RamScsiTarget.BlockSize)), data);

    /// <summary>Sends the command PDU and its unsolicited data; returns the ITT.</summary>
    public async Task<uint> SendWriteAsync(byte[] cdb, byte[] data, int edtl)
    {
        int immediate = ImmediateData ? Math.Min(Math.Min(edtl, FirstBurstLength), TargetMaxRecvDataSegmentLength) : 0;
        int unsolicitedEnd = InitialR2T ? immediate : Math.Min(FirstBurstLength, edtl);
        bool final = unsolicitedEnd <= immediate;
        byte[] h = CommandHeader(cdb, edtl, read: false, write: true, final: final);
        uint itt = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16));
        await SendAsync(h, data.AsMemory(0, immediate));
        if (!final)
            await SendDataOutAsync(itt, 0xFFFFFFFF, data, immediate, unsolicitedEnd - immediate);
        return itt;
    }

    public async Task SendDataOutAsync(uint itt, uint ttt, byte[] data, int offset, int length, uint firstDataSN = 0)
    {
        uint dataSN = firstDataSN;
        int end = offset + length;
        while (offset < end)
        {
            int chunk = Math.Min(TargetMaxRecvDataSegmentLength, end - offset);
            byte[] h = NewHeader(0x05, (byte)(offset + chunk == end ? 0x80 : 0));
            Put32(h, 16, itt);
            Put32(h, 20, ttt);
            Put32(h, 28, ExpStatSN);
            Put32(h, 36, dataSN++);
            Put32(h, 40, (uint)offset);
            await SendAsync(h, data.AsMemory(offset, chunk));
            offset += chunk;
        }
    }

    /// <summary>Receives until the task's status, answering R2Ts with data from <paramref name="data"/>.</summary>
    public async Task<ScsiResult> CollectAsync(uint itt, byte[] data, int edtl)
    {
        var result = new ScsiResult();
        var received = new MemoryStream();
        while (true)
        {
            ReceivedPdu pdu = await ReceiveAsync();
            if (pdu.Itt != itt)
                throw new InvalidDataException($"unexpected PDU opcode {pdu.Opcode:x2} for ITT {pdu.Itt:x8}");
            switch (pdu.Opcode)
            {
                case 0x25: // Data-In
                    if (pdu.Word40 != received.Length)
                        throw new InvalidDataException("Data-In out of order");
                    if (pdu.Word36 != (uint)result.DataInPdus)
                        throw new InvalidDataException("Data-In DataSN out of sequence");
                    received.Write(pdu.Data);
                    result.DataInPdus++;
                    result.DataInLengths.Add(pdu.Data.Length);
                    if ((pdu.Flags & 0x01) != 0)
                    {
                        result.Status = pdu.Byte3;
                        result.ResidualFlags = (byte)(pdu.Flags & 0x06);
                        result.Residual = pdu.Word44;
                        result.StatusInDataIn = true;
                        result.Data = received.ToArray();
                        return result;
                    }
                    break;
                case 0x31: // R2T
                    result.R2Ts++;
                    await SendDataOutAsync(itt, pdu.Word20, data, (int)pdu.Word40, (int)pdu.Word44);
                    break;
                case 0x21: // SCSI Response
                    result.Status = pdu.Byte3;
                    result.ResidualFlags = (byte)(pdu.Flags & 0x06);
                    result.Residual = pdu.Word44;
                    if (pdu.Data.Length >= 2)
                        result.Sense = pdu.Data.AsSpan(2, BinaryPrimitives.ReadUInt16BigEndian(pdu.Data)).ToArray();
                    result.Data = received.ToArray();
                    return result;
                default:
                    throw new InvalidDataException($"unexpected opcode {pdu.Opcode:x2}");
            }
        }
    }

    public async Task<ReceivedPdu> NopAsync(byte[] data, bool immediate = true)
    {
        byte[] h = NewHeader(0x00, 0x80, immediate);
        Put32(h, 16, NextItt());
        Put32(h, 20, 0xFFFFFFFF);
        Put32(h, 24, immediate ? CmdSN : CmdSN++);
        Put32(h, 28, ExpStatSN);
        await SendAsync(h, data);
        return await ReceiveAsync();
    }

    public async Task<uint> SendTaskManagementAsync(byte function, ulong lun, uint referencedItt, uint refCmdSN = 0)
    {
        byte[] h = NewHeader(0x02, (byte)(0x80 | function), immediate: true);
        BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(8), lun << 48);
        uint itt = NextItt();
        Put32(h, 16, itt);
        Put32(h, 20, referencedItt);
        Put32(h, 24, CmdSN);
        Put32(h, 28, ExpStatSN);
        Put32(h, 32, refCmdSN);
        await SendAsync(h);
        return itt;
    }

    public async Task<ReceivedPdu> TextAsync(IEnumerable<KeyValuePair<string, string>> keys)
    {
        byte[] h = NewHeader(0x04, 0x80, immediate: true);
        Put32(h, 16, NextItt());
        Put32(h, 20, 0xFFFFFFFF);
        Put32(h, 24, CmdSN);
        Put32(h, 28, ExpStatSN);
        await SendAsync(h, EncodeKeys(keys));
        return await ReceiveAsync();
    }

    public async Task<ReceivedPdu> LogoutAsync(byte reason = 0)
    {
        byte[] h = NewHeader(0x06, (byte)(0x80 | reason), immediate: true);
        Put32(h, 16, NextItt());
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(20), 1);
        Put32(h, 24, CmdSN);
        Put32(h, 28, ExpStatSN);
        await SendAsync(h);
        return await ReceiveAsync();
    }
}
