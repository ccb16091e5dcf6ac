using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// UNMAP — SBC-3 §5.28. Parameter list: 8-byte header (UNMAP DATA LENGTH, UNMAP BLOCK DESCRIPTOR
/// DATA LENGTH) then 16-byte descriptors (LBA, NUMBER OF LOGICAL BLOCKS). Every descriptor is
/// checked before any block is released, so a bad list changes nothing.
/// </summary>
public static class Unmap
{
    private const int HeaderLength = 8;
    private const int DescriptorLength = 16;
    private const int ParameterListLengthByte = 7;

    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        // ANC_SUP=0 in the Logical Block Provisioning VPD page.
        if ((cdb[1] & 0x01) != 0)
        {
            Respond.InvalidCdbField(command, 1, 0);
            return;
        }
        int parameterListLength = CdbReader.U16(cdb, ParameterListLengthByte);
        command.TransferLength = parameterListLength;
        if (parameterListLength == 0)
            return;
        if (parameterListLength < HeaderLength)
        {
            Respond.Check(command, SenseCodes.ParameterListLengthError);
            return;
        }
        var data = command.DataOut[..Math.Min(parameterListLength, command.DataOut.Length)];
        if (data.Length < HeaderLength)
        {
            Respond.Check(command, SenseCodes.ParameterListLengthError);
            return;
        }

        if (!Validate(unit, command, data.Span, out int descriptors))
            return;
        if (descriptors == 0)
            return;

        await unit.WriteGate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (int i = 0; i < descriptors; i++)
            {
                int offset = HeaderLength + i * DescriptorLength;
                long lba = (long)CdbReader.U64(data.Span, offset);
                long count = CdbReader.U32(data.Span, offset + 8);
                if (count > 0)
                    await unit.Device.UnmapAsync(lba, count, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            unit.WriteGate.ExitShared();
        }
    }

    private static bool Validate(ScsiLogicalUnit unit, ScsiCommand command, ReadOnlySpan<byte> data, out int descriptors)
    {
        descriptors = 0;
        int unmapDataLength = CdbReader.U16(data, 0);
        int descriptorDataLength = CdbReader.U16(data, 2);
        // UNMAP DATA LENGTH counts the bytes after itself; it may not claim more than was sent.
        if (unmapDataLength > data.Length - 2 || descriptorDataLength > data.Length - HeaderLength)
        {
            Respond.Check(command, SenseCodes.ParameterListLengthError);
            return false;
        }
        // A trailing partial descriptor is ignored (SBC-3 §5.28.2).
        descriptors = descriptorDataLength / DescriptorLength;
        if ((uint)descriptors > BlockLimits.MaxUnmapDescriptors)
        {
            Respond.InvalidParameterField(command, 2);
            return false;
        }

        ulong capacity = (ulong)unit.Device.BlockCount;
        ulong total = 0;
        for (int i = 0; i < descriptors; i++)
        {
            int offset = HeaderLength + i * DescriptorLength;
            ulong lba = CdbReader.U64(data, offset);
            ulong count = CdbReader.U32(data, offset + 8);
            if (lba > capacity || count > capacity - lba)
            {
                Respond.Check(command, SenseCodes.LbaOutOfRange);
                return false;
            }
            total += count;
        }
        if (total > BlockLimits.MaxUnmapBlocks)
        {
            Respond.InvalidParameterField(command, HeaderLength + 8);
            return false;
        }
        return true;
    }
}
