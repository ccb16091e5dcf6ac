using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>MODE SENSE (6) and (10) — SPC-4 §6.11-6.12.</summary>
public static class ModeSense
{
    private const byte WriteProtectBit = 0x80; // device-specific parameter (SBC-3 §6.4.1)
    private const byte DpoFuaBit = 0x10;
    private const int ShortBlockDescriptorLength = 8;
    private const int LongBlockDescriptorLength = 16;
    private const byte AllSubpages = 0xFF;

    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool ten = cdb[0] == OperationCode.ModeSense10;
        bool disableBlockDescriptors = (cdb[1] & 0x08) != 0;
        bool longLba = ten && (cdb[1] & 0x10) != 0;
        int pageControl = cdb[2] >> 6;
        byte page = (byte)(cdb[2] & 0x3F);
        byte subpage = cdb[3];
        int allocationLength = ten ? CdbReader.U16(cdb, 7) : cdb[4];

        if (pageControl == ModePages.PageControlSaved)
        {
            SenseData.SetCheckCondition(command, SenseCodes.SavingParametersNotSupported);
            return ValueTask.CompletedTask;
        }
        bool allPages = page == ModePages.AllPages;
        if ((!allPages && ModePages.Length(page) == 0))
        {
            Respond.InvalidCdbField(command, 2, 5);
            return ValueTask.CompletedTask;
        }
        if (subpage != 0 && !(allPages && subpage == AllSubpages))
        {
            Respond.InvalidCdbField(command, 3);
            return ValueTask.CompletedTask;
        }

        int headerLength = ten ? 8 : 4;
        int descriptorLength = disableBlockDescriptors ? 0 : longLba ? LongBlockDescriptorLength : ShortBlockDescriptorLength;
        Span<byte> data = stackalloc byte[256];
        data.Clear();
        int at = headerLength;

        if (descriptorLength == ShortBlockDescriptorLength)
        {
            long blocks = unit.Device.BlockCount;
            BinaryPrimitives.WriteUInt32BigEndian(data[at..], blocks > uint.MaxValue ? uint.MaxValue : (uint)blocks);
            BinaryPrimitives.WriteUInt32BigEndian(data[(at + 4)..], (uint)unit.Device.BlockSize & 0xFFFFFF);
        }
        else if (descriptorLength == LongBlockDescriptorLength)
        {
            BinaryPrimitives.WriteUInt64BigEndian(data[at..], (ulong)unit.Device.BlockCount);
            BinaryPrimitives.WriteUInt32BigEndian(data[(at + 12)..], (uint)unit.Device.BlockSize);
        }
        at += descriptorLength;

        if (allPages)
        {
            foreach (byte p in ModePages.All)
                at += ModePages.Write(unit, p, pageControl, data[at..]);
        }
        else
        {
            at += ModePages.Write(unit, page, pageControl, data[at..]);
        }

        byte deviceSpecific = (byte)(DpoFuaBit | (unit.IsWriteProtected ? WriteProtectBit : 0));
        if (ten)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)(at - 2));
            data[3] = deviceSpecific;
            data[4] = (byte)(longLba ? 0x01 : 0x00);
            BinaryPrimitives.WriteUInt16BigEndian(data[6..], (ushort)descriptorLength);
        }
        else
        {
            data[0] = (byte)(at - 1);
            data[2] = deviceSpecific;
            data[3] = (byte)descriptorLength;
        }
        Respond.DataIn(command, data[..at], allocationLength);
        return ValueTask.CompletedTask;
    }
}
