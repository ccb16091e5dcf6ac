using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// GET LBA STATUS — SBC-3 §5.7 (SERVICE ACTION IN(16) / 12h): provisioning status of the extents
/// from STARTING LOGICAL BLOCK ADDRESS on, as many descriptors as the allocation length holds.
/// </summary>
public static class GetLbaStatus
{
    private const int HeaderLength = 8;
    private const int DescriptorLength = 16;

    /// <summary>Implementation limit: descriptors returned per command.</summary>
    private const int MaxDescriptors = 64;

    private const byte Mapped = 0x0;
    private const byte Deallocated = 0x1;

    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        ulong lba = CdbReader.U64(cdb, 2);
        int allocationLength = CdbReader.AllocationLength(cdb, 10, 4);
        long capacity = unit.Device.BlockCount;
        if (lba >= (ulong)capacity)
        {
            SenseData.SetCheckCondition(command, SenseCodes.LbaOutOfRange);
            return;
        }
        if (allocationLength == 0)
            return;

        int wanted = Math.Clamp((allocationLength - HeaderLength + DescriptorLength - 1) / DescriptorLength, 1, MaxDescriptors);
        byte[] buffer = Respond.Rent(HeaderLength + wanted * DescriptorLength);
        try
        {
            int count = 0;
            long next = FirstDescribedLba((long)lba, unit.Device.BlockSize, capacity);
            while (count < wanted && next < capacity)
            {
                var extent = await unit.Device.GetLbaStatusAsync(next, cancellationToken).ConfigureAwait(false);
                long length = Math.Clamp(extent.Lba + extent.BlockCount - next, 1, capacity - next);
                length = Math.Min(length, uint.MaxValue);
                var descriptor = buffer.AsSpan(HeaderLength + count * DescriptorLength, DescriptorLength);
                BinaryPrimitives.WriteUInt64BigEndian(descriptor, (ulong)next);
                BinaryPrimitives.WriteUInt32BigEndian(descriptor[8..], (uint)length);
                descriptor[12] = extent.Mapped ? Mapped : Deallocated;
                count++;
                next += length;
            }
            int total = HeaderLength + count * DescriptorLength;
            BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)(total - 4));
            Respond.DataIn(command, buffer.AsSpan(0, total), allocationLength);
        }
        finally
        {
            Respond.Return(buffer);
        }
    }

    /// <summary>
    /// Where the first descriptor starts. Provisioning is tracked per physical block (4096 bytes,
    /// the unit the file system can deallocate), so on a 512-byte device a query that starts
    /// inside a physical block is answered from the next physical block boundary: libiscsi's
    /// GetLBAStatus.UnmapSingle expects exactly that of a device with 8 logical blocks per
    /// physical block. Aligned queries (every query on a 4096-byte device) start where asked.
    /// </summary>
    private static long FirstDescribedLba(long lba, int blockSize, long capacity)
    {
        long perPhysical = 1L << BlockLimits.LogicalPerPhysicalExponent(blockSize);
        long aligned = (lba + perPhysical - 1) / perPhysical * perPhysical;
        return aligned < capacity ? aligned : lba;
    }
}
