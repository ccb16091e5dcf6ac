using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// REPORT SUPPORTED OPERATION CODES — SPC-4 §6.35 (MAINTENANCE IN / 0Ch). Built from the same
/// <see cref="CommandTable"/> the dispatcher uses, so what we report is what we accept.
/// </summary>
public static class ReportSupportedOperationCodes
{
    private const int AllCommands = 0;
    private const int OneCommand = 1;
    private const int OneCommandWithServiceAction = 2;
    private const int OneCommandEither = 3;

    private const int TimeoutsDescriptorLength = 12;
    private const byte Supported = 0x03;     // SUPPORT 011b: supported as the standard defines
    private const byte NotSupported = 0x01;  // SUPPORT 001b

    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool timeouts = (cdb[2] & 0x80) != 0;
        int option = cdb[2] & 0x07;
        byte opcode = cdb[3];
        ushort serviceAction = CdbReader.U16(cdb, 4);
        int allocationLength = CdbReader.AllocationLength(cdb, 6, 4);

        byte[] buffer = Respond.Rent(8192);
        try
        {
            int length;
            switch (option)
            {
                case AllCommands:
                    length = WriteAll(unit, timeouts, buffer);
                    break;
                case OneCommand:
                case OneCommandWithServiceAction:
                case OneCommandEither:
                    var kind = CommandTable.KindOf(opcode, unit.IsThinProvisioned);
                    bool hasServiceActions = kind == OpcodeKind.WithServiceActions;
                    if ((option == OneCommand && hasServiceActions) || (option == OneCommandWithServiceAction && kind == OpcodeKind.Plain))
                    {
                        Respond.InvalidCdbField(command, 2, 2);
                        return ValueTask.CompletedTask;
                    }
                    var descriptor = CommandTable.Find(opcode, hasServiceActions ? serviceAction : -1, unit.IsThinProvisioned);
                    length = WriteOne(descriptor, timeouts, buffer);
                    break;
                default:
                    Respond.InvalidCdbField(command, 2, 2);
                    return ValueTask.CompletedTask;
            }
            Respond.DataIn(command, buffer.AsSpan(0, length), allocationLength);
        }
        finally
        {
            Respond.Return(buffer);
        }
        return ValueTask.CompletedTask;
    }

    private static int WriteAll(ScsiLogicalUnit unit, bool timeouts, Span<byte> buffer)
    {
        int at = 4;
        foreach (var d in CommandTable.All)
        {
            if ((d.Flags & CommandFlags.ThinOnly) != 0 && !unit.IsThinProvisioned)
                continue;
            buffer[at] = d.Opcode;
            BinaryPrimitives.WriteUInt16BigEndian(buffer[(at + 2)..], (ushort)Math.Max(d.ServiceAction, 0));
            buffer[at + 5] = (byte)((timeouts ? 0x02 : 0) | (d.HasServiceAction ? 0x01 : 0));
            BinaryPrimitives.WriteUInt16BigEndian(buffer[(at + 6)..], (ushort)d.CdbLength);
            at += 8;
            if (timeouts)
                at += WriteTimeouts(d, buffer[at..]);
        }
        BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)(at - 4));
        return at;
    }

    private static int WriteOne(CommandDescriptor? d, bool timeouts, Span<byte> buffer)
    {
        if (d is null)
        {
            buffer[1] = NotSupported;
            return 4;
        }
        buffer[1] = (byte)((timeouts ? 0x80 : 0) | Supported);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)d.CdbLength);
        d.UsageMask.CopyTo(buffer[4..]);
        int at = 4 + d.CdbLength;
        if (timeouts)
            at += WriteTimeouts(d, buffer[at..]);
        return at;
    }

    private static int WriteTimeouts(CommandDescriptor d, Span<byte> buffer)
    {
        buffer[..TimeoutsDescriptorLength].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(buffer, TimeoutsDescriptorLength - 2);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], d.NominalTimeoutSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[8..], d.RecommendedTimeoutSeconds);
        return TimeoutsDescriptorLength;
    }
}
