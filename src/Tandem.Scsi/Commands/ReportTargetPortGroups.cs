using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>REPORT TARGET PORT GROUPS — SPC-4 §6.36 (MAINTENANCE IN / 0Ah).</summary>
public static class ReportTargetPortGroups
{
    private const int LengthOnlyFormat = 0;
    private const int ExtendedHeaderFormat = 1;
    private const byte ExtendedFormatType = 0x10;

    /// <summary>T_SUP, O_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP: the states an HA device moves through.</summary>
    private const byte SupportedStates = 0x80 | 0x40 | 0x08 | 0x04 | 0x02 | 0x01;

    /// <summary>IMPLICIT TRANSITION TIME in the extended header, seconds.</summary>
    private const byte ImplicitTransitionSeconds = 30;

    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        int format = cdb[1] >> 5;
        if (format is not (LengthOnlyFormat or ExtendedHeaderFormat))
        {
            Respond.InvalidCdbField(command, 1, 7);
            return ValueTask.CompletedTask;
        }
        int allocationLength = CdbReader.AllocationLength(cdb, 6, 4);
        var groups = unit.Options.Alua.GetTargetPortGroups();
        int headerLength = format == ExtendedHeaderFormat ? 8 : 4;
        int total = headerLength;
        foreach (var g in groups)
            total += 8 + 4 * g.RelativeTargetPortIds.Count;

        byte[] buffer = Respond.Rent(total);
        try
        {
            var data = buffer.AsSpan(0, total);
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(total - 4));
            if (format == ExtendedHeaderFormat)
            {
                data[4] = ExtendedFormatType;
                data[5] = ImplicitTransitionSeconds;
            }
            int at = headerLength;
            foreach (var g in groups)
            {
                data[at] = (byte)((g.Preferred ? 0x80 : 0) | ((byte)g.State & 0x0F));
                data[at + 1] = SupportedStates;
                BinaryPrimitives.WriteUInt16BigEndian(data[(at + 2)..], g.Id);
                data[at + 7] = (byte)g.RelativeTargetPortIds.Count;
                at += 8;
                foreach (ushort port in g.RelativeTargetPortIds)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(data[(at + 2)..], port);
                    at += 4;
                }
            }
            Respond.DataIn(command, data, allocationLength);
        }
        finally
        {
            Respond.Return(buffer);
        }
        return ValueTask.CompletedTask;
    }
}
