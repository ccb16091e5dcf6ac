using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Pdu;

namespace Tandem.Iscsi.Tests.Pdu;

public class BhsCodecTests
{
    [Fact]
    public void FieldsRoundTrip()
    {
        var bytes = new byte[48];
        var bhs = new Bhs(bytes);
        bhs.Opcode = Opcode.ScsiDataIn;
        bhs.Flags = 0x81;
        bhs.Byte3 = 0x02;
        bhs.TotalAhsLength = 8;
        bhs.DataSegmentLength = 0x123456;
        bhs.Lun = 0x0001_0000_0000_0000;
        bhs.InitiatorTaskTag = 0xDEADBEEF;
        bhs.TargetTransferTag = 0xFFFFFFFF;
        bhs.StatSN = 7;
        bhs.ExpCmdSN = 8;
        bhs.MaxCmdSN = 9;
        bhs.DataSN = 10;
        bhs.BufferOffset = 11;
        bhs.Word44 = 12;

        var read = new Bhs(bytes);
        Assert.Equal(Opcode.ScsiDataIn, read.Opcode);
        Assert.True(read.Final);
        Assert.Equal(8, read.TotalAhsLength);
        Assert.Equal(0x123456, read.DataSegmentLength);
        Assert.Equal(0x0001_0000_0000_0000UL, read.Lun);
        Assert.Equal(0xDEADBEEF, read.InitiatorTaskTag);
        Assert.Equal(7u, read.StatSN);
        Assert.Equal(8u, read.ExpCmdSN);
        Assert.Equal(9u, read.MaxCmdSN);
        Assert.Equal(10u, read.DataSN);
        Assert.Equal(11u, read.BufferOffset);
        Assert.Equal(12u, read.Word44);
        // Wire layout: DataSegmentLength big-endian in bytes 5-7, ITT in 16-19.
        Assert.Equal(new byte[] { 0x12, 0x34, 0x56 }, bytes[5..8]);
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, bytes[16..20]);
    }

    [Fact]
    public void LoginIdentifiersRoundTrip()
    {
        var bytes = new byte[48];
        var bhs = new Bhs(bytes) { Isid = 0x4000_0137_0001, Tsih = 0x1234 };
        Assert.Equal(0x4000_0137_0001UL, new Bhs(bytes).Isid);
        Assert.Equal(0x1234, new Bhs(bytes).Tsih);
        Assert.Equal(new byte[] { 0x40, 0x00, 0x01, 0x37, 0x00, 0x01, 0x12, 0x34 }, bytes[8..16]);
    }

    [Fact]
    public void ImmediateBitIsKeptWhenOpcodeChanges()
    {
        var bytes = new byte[48];
        bytes[0] = 0x40;
        var bhs = new Bhs(bytes) { Opcode = Opcode.NopOut };
        Assert.True(bhs.Immediate);
        Assert.Equal(Opcode.NopOut, bhs.Opcode);
    }

    [Fact]
    public void ShortBufferIsRefused() => Assert.Throws<ArgumentException>(() => new Bhs(new byte[47]));

    [Fact]
    public void ExtendedCdbAhsParses()
    {
        // AHSLength = 17 (reserved byte + 16 CDB bytes), type 1, then padding to 20 bytes.
        var ahs = new byte[20];
        ahs[1] = 17;
        ahs[2] = AdditionalHeaders.ExtendedCdbType;
        for (int i = 0; i < 16; i++)
            ahs[4 + i] = (byte)(i + 1);
        Assert.True(AdditionalHeaders.TryParse(ahs, out ReadOnlySpan<byte> cdb, out int? bidi));
        Assert.Equal(16, cdb.Length);
        Assert.Equal(1, cdb[0]);
        Assert.Null(bidi);
    }

    [Fact]
    public void BidirectionalReadLengthAhsParses()
    {
        byte[] ahs = [0, 5, 2, 0, 0, 0, 0x10, 0];
        Assert.True(AdditionalHeaders.TryParse(ahs, out _, out int? bidi));
        Assert.Equal(4096, bidi);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 1, 0 })] // zero length
    [InlineData(new byte[] { 0, 40, 1, 0, 0, 0, 0, 0 })] // longer than the area
    [InlineData(new byte[] { 0, 5, 9, 0, 0, 0, 0, 0 })] // unknown type
    [InlineData(new byte[] { 0, 3, 2, 0, 0, 0, 0, 0 })] // bidi with wrong length
    [InlineData(new byte[] { 0, 1 })] // truncated
    public void MalformedAhsIsRefused(byte[] ahs) => Assert.False(AdditionalHeaders.TryParse(ahs, out _, out _));

    [Theory]
    [InlineData(0x0000_0000_0000_0000UL, 0UL)]
    [InlineData(0x0005_0000_0000_0000UL, 5UL)]
    [InlineData(0x4101_0000_0000_0000UL, 257UL)] // flat space addressing
    [InlineData(0x0001_0001_0000_0000UL, LunEncoding.Unsupported)] // second level
    [InlineData(0xC000_0000_0000_0000UL, LunEncoding.Unsupported)] // extended addressing
    public void LunFieldDecodes(ulong field, ulong lun) => Assert.Equal(lun, LunEncoding.Decode(field));

    [Fact]
    public void SerialArithmeticWraps()
    {
        Assert.Equal(1, PduMath.SerialDistance(0, uint.MaxValue));
        Assert.Equal(-1, PduMath.SerialDistance(uint.MaxValue, 0));
        Assert.Equal(8, PduMath.Padded(5));
        Assert.Equal(8, PduMath.Padded(8));
    }
}
