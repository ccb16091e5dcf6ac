using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>READ CAPACITY (10) and (16) — SBC-3 §5.15-5.16.</summary>
public static class ReadCapacity
{
    private const int Capacity10Length = 8;
    private const int Capacity16Length = 32;

    public static ValueTask Execute10Async(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        // PMI=0 with a non-zero LBA is invalid (SBC-3 §5.15, obsolete fields still checked).
        if ((cdb[8] & 0x01) == 0 && CdbReader.U32(cdb, 2) != 0)
        {
            Respond.InvalidCdbField(command, 2);
            return ValueTask.CompletedTask;
        }
        long lastLba = unit.Device.BlockCount - 1;
        Span<byte> data = stackalloc byte[Capacity10Length];
        // A medium too large for 32 bits reports FFFFFFFFh so the initiator moves to READ CAPACITY(16).
        BinaryPrimitives.WriteUInt32BigEndian(data, lastLba >= uint.MaxValue ? uint.MaxValue : (uint)lastLba);
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)unit.Device.BlockSize);
        Respond.DataIn(command, data, Capacity10Length);
        return ValueTask.CompletedTask;
    }

    public static ValueTask Execute16Async(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        if ((cdb[14] & 0x01) == 0 && CdbReader.U64(cdb, 2) != 0)
        {
            Respond.InvalidCdbField(command, 2);
            return ValueTask.CompletedTask;
        }
        int allocationLength = CdbReader.AllocationLength(cdb, 10, 4);
        Span<byte> data = stackalloc byte[Capacity16Length];
        data.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(data, (ulong)(unit.Device.BlockCount - 1));
        BinaryPrimitives.WriteUInt32BigEndian(data[8..], (uint)unit.Device.BlockSize);
        data[13] = (byte)LogicalUnits.BlockLimits.LogicalPerPhysicalExponent(unit.Device.BlockSize);
        if (unit.IsThinProvisioned)
            data[14] = 0x80 | 0x40; // LBPME, LBPRZ
        Respond.DataIn(command, data, allocationLength);
        return ValueTask.CompletedTask;
    }
}
