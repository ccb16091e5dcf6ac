using System.Buffers.Binary;

namespace Tandem.Iscsi.Pdu;

/// <summary>
/// A view over a 48-byte Basic Header Segment (RFC 7143 §11.2), read and written in place.
/// Field names follow the RFC; which fields a PDU uses depends on its opcode.
/// </summary>
/// <remarks>
/// <code>
///  Byte    0        1        2        3
///     +--------+--------+--------+--------+
///   0 |.|I| Op |F| flags |  opcode-specific |
///   4 |TotalAHS| DataSegmentLength (24)   |
///   8 | LUN or opcode-specific (8 bytes)  |
///  16 | Initiator Task Tag                |
///  20 | opcode-specific (28 bytes) ...    |
///     +--------+--------+--------+--------+
/// </code>
/// </remarks>
internal readonly ref struct Bhs
{
    private readonly Span<byte> _b;

    public Bhs(Span<byte> bytes)
    {
        if (bytes.Length < IscsiLimits.BhsLength)
            throw new ArgumentException("a BHS is 48 bytes", nameof(bytes));
        _b = bytes[..IscsiLimits.BhsLength];
    }

    public Span<byte> Bytes => _b;

    public Opcode Opcode
    {
        get => (Opcode)(_b[0] & 0x3F);
        set => _b[0] = (byte)((_b[0] & 0x40) | ((byte)value & 0x3F));
    }

    /// <summary>I bit: immediate delivery (initiator PDUs only).</summary>
    public bool Immediate => (_b[0] & 0x40) != 0;

    /// <summary>Byte 1: F bit and opcode-specific flags.</summary>
    public byte Flags { get => _b[1]; set => _b[1] = value; }

    public bool Final => (_b[1] & 0x80) != 0;

    public byte Byte2 { get => _b[2]; set => _b[2] = value; }
    public byte Byte3 { get => _b[3]; set => _b[3] = value; }

    /// <summary>Length of the additional header segments in bytes (the field counts 4-byte words).</summary>
    public int TotalAhsLength { get => _b[4] * 4; set => _b[4] = (byte)(value / 4); }

    public int DataSegmentLength
    {
        get => (_b[5] << 16) | (_b[6] << 8) | _b[7];
        set { _b[5] = (byte)(value >> 16); _b[6] = (byte)(value >> 8); _b[7] = (byte)value; }
    }

    public ulong Lun { get => U64(8); set => SetU64(8, value); }
    public uint InitiatorTaskTag { get => U32(16); set => SetU32(16, value); }

    /// <summary>Bytes 20-23: TTT, EDTL, CID (login/logout, high 16 bits), or RTT (task management).</summary>
    public uint Word20 { get => U32(20); set => SetU32(20, value); }

    /// <summary>Bytes 24-27: CmdSN (requests) or StatSN (responses).</summary>
    public uint Word24 { get => U32(24); set => SetU32(24, value); }

    /// <summary>Bytes 28-31: ExpStatSN (requests) or ExpCmdSN (responses).</summary>
    public uint Word28 { get => U32(28); set => SetU32(28, value); }

    /// <summary>Bytes 32-35: MaxCmdSN (responses), RefCmdSN (task management).</summary>
    public uint Word32 { get => U32(32); set => SetU32(32, value); }

    /// <summary>Bytes 36-39: DataSN, R2TSN, ExpDataSN.</summary>
    public uint Word36 { get => U32(36); set => SetU32(36, value); }

    /// <summary>Bytes 40-43: Buffer Offset, Bidirectional Read Residual Count.</summary>
    public uint Word40 { get => U32(40); set => SetU32(40, value); }

    /// <summary>Bytes 44-47: Residual Count, Desired Data Transfer Length.</summary>
    public uint Word44 { get => U32(44); set => SetU32(44, value); }

    // Named aliases, per PDU type, for readability at call sites.
    public uint TargetTransferTag { get => Word20; set => Word20 = value; }
    public uint ExpectedDataTransferLength => Word20;
    public uint CmdSN => Word24;
    public uint ExpStatSN => Word28;
    public uint StatSN { get => Word24; set => Word24 = value; }
    public uint ExpCmdSN { get => Word28; set => Word28 = value; }
    public uint MaxCmdSN { get => Word32; set => Word32 = value; }
    public uint DataSN { get => Word36; set => Word36 = value; }
    public uint BufferOffset { get => Word40; set => Word40 = value; }

    /// <summary>SCSI Command CDB, bytes 32-47.</summary>
    public Span<byte> Cdb => _b.Slice(32, 16);

    /// <summary>Login: ISID, the 6-byte initiator part of the session identifier.</summary>
    public ulong Isid
    {
        get => ((ulong)BinaryPrimitives.ReadUInt16BigEndian(_b[8..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(_b[10..]);
        set { BinaryPrimitives.WriteUInt16BigEndian(_b[8..], (ushort)(value >> 32)); BinaryPrimitives.WriteUInt32BigEndian(_b[10..], (uint)value); }
    }

    /// <summary>Login: target session identifying handle.</summary>
    public ushort Tsih
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[14..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[14..], value);
    }

    /// <summary>Login/Logout request: connection id, bytes 20-21.</summary>
    public ushort Cid => BinaryPrimitives.ReadUInt16BigEndian(_b[20..]);

    public void Clear() => _b.Clear();

    private uint U32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(_b[offset..]);
    private void SetU32(int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_b[offset..], value);
    private ulong U64(int offset) => BinaryPrimitives.ReadUInt64BigEndian(_b[offset..]);
    private void SetU64(int offset, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(_b[offset..], value);
}

/// <summary>Flag bits of byte 1, per PDU type (RFC 7143 §11).</summary>
internal static class BhsFlags
{
    public const byte Final = 0x80;

    // SCSI Command
    public const byte Read = 0x40;
    public const byte Write = 0x20;
    public const byte AttributeMask = 0x07;

    // Login / Text
    public const byte Transit = 0x80;
    public const byte Continue = 0x40;

    // SCSI Response / Data-In
    public const byte Acknowledge = 0x40;
    public const byte BidiOverflow = 0x10;
    public const byte BidiUnderflow = 0x08;
    public const byte Overflow = 0x04;
    public const byte Underflow = 0x02;
    public const byte Status = 0x01;
}

/// <summary>Small helpers shared by the codec.</summary>
internal static class PduMath
{
    /// <summary>RFC 7143 §11.2.3: data segments are padded to a 4-byte boundary.</summary>
    public static int Padded(int length) => (length + 3) & ~3;

    /// <summary>RFC 1982 serial number arithmetic on 32-bit sequence numbers: a - b as a signed distance.</summary>
    public static int SerialDistance(uint a, uint b) => unchecked((int)(a - b));
}
