using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>REPORT LUNS — SPC-4 §6.33. Answered by the target for any LUN, existing or not.</summary>
public static class ReportLuns
{
    /// <summary>SPC-4 §6.33: allocation lengths below 16 are invalid.</summary>
    private const int MinimumAllocationLength = 16;

    private const int HeaderLength = 8;

    public static void Execute(IReadOnlyCollection<ulong> luns, ScsiCommand command)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        if (cdb.Length < 12)
        {
            Respond.InvalidCdbField(command, 0);
            return;
        }
        byte selectReport = cdb[2];
        if (selectReport > 0x02)
        {
            Respond.InvalidCdbField(command, 2);
            return;
        }
        if ((cdb[1] | cdb[3] | cdb[4] | cdb[5] | cdb[10]) != 0)
        {
            Respond.InvalidCdbField(command, cdb[1] != 0 ? 1 : cdb[3] != 0 ? 3 : cdb[4] != 0 ? 4 : cdb[5] != 0 ? 5 : 10);
            return;
        }
        int allocationLength = CdbReader.AllocationLength(cdb, 6, 4);
        if (allocationLength < MinimumAllocationLength)
        {
            Respond.InvalidCdbField(command, 6);
            return;
        }
        // SELECT REPORT 01h asks for well-known LUNs only: we have none.
        var sorted = selectReport == 0x01 ? [] : luns.Order().ToArray();
        byte[] buffer = Respond.Rent(HeaderLength + sorted.Length * 8);
        try
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)(sorted.Length * 8));
            for (int i = 0; i < sorted.Length; i++)
                Encode(sorted[i], buffer.AsSpan(HeaderLength + i * 8, 8));
            Respond.DataIn(command, buffer.AsSpan(0, HeaderLength + sorted.Length * 8), allocationLength);
        }
        finally
        {
            Respond.Return(buffer);
        }
    }

    /// <summary>SAM-5 §4.7: peripheral device addressing below 256, flat space addressing up to 16383.</summary>
    public static void Encode(ulong lun, Span<byte> destination)
    {
        destination.Clear();
        if (lun < 256)
        {
            destination[1] = (byte)lun;
        }
        else
        {
            destination[0] = (byte)(0x40 | ((lun >> 8) & 0x3F));
            destination[1] = (byte)lun;
        }
    }
}
