namespace Tandem.Scsi.Cdb;

/// <summary>
/// LBA, transfer length and flag fields of the SBC-3 media-access CDB layouts
/// (6-, 10-, 12- and 16-byte forms share their flag byte 1).
/// </summary>
public readonly ref struct BlockCdb
{
    public BlockCdb(ReadOnlySpan<byte> cdb)
    {
        switch (cdb[0] >> 5)
        {
            case 0: // 6-byte: 21-bit LBA, 8-bit length
                Lba = CdbReader.U24(cdb, 1) & 0x1F_FFFF;
                TransferLength = cdb[4];
                LengthByte = 4;
                Flags = 0;
                GroupByte = -1;
                break;
            case 1: // 10-byte
            case 2:
                Lba = CdbReader.U32(cdb, 2);
                TransferLength = CdbReader.U16(cdb, 7);
                LengthByte = 7;
                Flags = cdb[1];
                GroupByte = 6;
                break;
            case 5: // 12-byte
                Lba = CdbReader.U32(cdb, 2);
                TransferLength = CdbReader.U32(cdb, 6);
                LengthByte = 6;
                Flags = cdb[1];
                GroupByte = 10;
                break;
            default: // 16-byte
                Lba = CdbReader.U64(cdb, 2);
                TransferLength = CdbReader.U32(cdb, 10);
                LengthByte = 10;
                Flags = cdb[1];
                GroupByte = 14;
                break;
        }
    }

    public ulong Lba { get; }
    public uint TransferLength { get; }

    /// <summary>Byte offset of the transfer length field, for sense field pointers.</summary>
    public int LengthByte { get; }

    public int GroupByte { get; }

    /// <summary>Byte 1: RDPROTECT/WRPROTECT/VRPROTECT (7..5), DPO (4), FUA (3), BYTCHK (2..1).</summary>
    public byte Flags { get; }

    public int Protect => Flags >> 5;
    public bool Dpo => (Flags & 0x10) != 0;
    public bool Fua => (Flags & 0x08) != 0;
    public int ByteCheck => (Flags >> 1) & 0x03;
}
