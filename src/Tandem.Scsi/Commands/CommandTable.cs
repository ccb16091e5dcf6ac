using Tandem.Scsi.Cdb;
using Tandem.Scsi.Sense;
using static Tandem.Scsi.Commands.CommandFlags;

namespace Tandem.Scsi.Commands;

public enum OpcodeKind
{
    Unknown,
    Plain,
    WithServiceActions,
}

/// <summary>
/// Every command this target implements, with the CDB bits it evaluates. The dispatcher looks
/// commands up here and REPORT SUPPORTED OPERATION CODES reports exactly this table.
/// </summary>
public static class CommandTable
{
    private const byte C = 0x04; // control byte: NACA is evaluated (and refused: no ACA support)

    /// <summary>Implementation limit: seconds an initiator should allow for a media command (RCTD).</summary>
    private const uint MediaTimeout = 30;

    private static readonly CommandDescriptor?[] ByOpcode = new CommandDescriptor?[256];
    private static readonly CommandDescriptor?[]?[] ByServiceAction = new CommandDescriptor?[]?[256];

    public static IReadOnlyList<CommandDescriptor> All { get; }

    static CommandTable()
    {
        const ReservationAccess A = ReservationAccess.Allowed;
        const ReservationAccess R = ReservationAccess.Read;
        const ReservationAccess W = ReservationAccess.Write;
        const CommandFlags Always = AllowedWhenUnavailable | AllowedInStandby | AllowedUnderSpc2Reservation;
        const CommandFlags Media = WritesMedium;

        All =
        [
            new(OperationCode.TestUnitReady, -1, "TEST UNIT READY", [0x00, 0, 0, 0, 0, C], TestUnitReady.ExecuteAsync, A),
            new(OperationCode.RequestSense, -1, "REQUEST SENSE", [0x03, 0x01, 0, 0, 0xFF, C], RequestSense.ExecuteAsync, A, Always | IgnoresUnitAttention),
            new(OperationCode.Read6, -1, "READ(6)", [0x08, 0x1F, 0xFF, 0xFF, 0xFF, C], ReadWrite.ReadAsync, R, None, 0, MediaTimeout),
            new(OperationCode.Write6, -1, "WRITE(6)", [0x0A, 0x1F, 0xFF, 0xFF, 0xFF, C], ReadWrite.WriteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.Inquiry, -1, "INQUIRY", [0x12, 0x01, 0xFF, 0xFF, 0xFF, C], Inquiry.ExecuteAsync, A, Always | IgnoresUnitAttention),
            new(OperationCode.ModeSelect6, -1, "MODE SELECT(6)", [0x15, 0x11, 0, 0, 0xFF, C], ModeSelect.ExecuteAsync, W, AllowedInStandby),
            new(OperationCode.Reserve6, -1, "RESERVE(6)", [0x16, 0, 0, 0, 0, C], ReserveRelease.ReserveAsync, A),
            new(OperationCode.Release6, -1, "RELEASE(6)", [0x17, 0, 0, 0, 0, C], ReserveRelease.ReleaseAsync, A, AllowedUnderSpc2Reservation),
            new(OperationCode.ModeSense6, -1, "MODE SENSE(6)", [0x1A, 0x08, 0xFF, 0xFF, 0xFF, C], ModeSense.ExecuteAsync, R, AllowedInStandby),
            new(OperationCode.StartStopUnit, -1, "START STOP UNIT", [0x1B, 0x01, 0, 0x0F, 0xF7, C], StartStopUnit.ExecuteAsync, W),
            new(OperationCode.PreventAllowMediumRemoval, -1, "PREVENT ALLOW MEDIUM REMOVAL", [0x1E, 0, 0, 0, 0x03, C], PreventAllowMediumRemoval.ExecuteAsync, W),
            new(OperationCode.ReadCapacity10, -1, "READ CAPACITY(10)", [0x25, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, C], ReadCapacity.Execute10Async, A),
            new(OperationCode.Read10, -1, "READ(10)", [0x28, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], ReadWrite.ReadAsync, R, None, 0, MediaTimeout),
            new(OperationCode.Write10, -1, "WRITE(10)", [0x2A, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], ReadWrite.WriteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.WriteAndVerify10, -1, "WRITE AND VERIFY(10)", [0x2E, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], WriteAndVerify.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.Verify10, -1, "VERIFY(10)", [0x2F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], Verify.ExecuteAsync, R, None, 0, MediaTimeout),
            new(OperationCode.PreFetch10, -1, "PRE-FETCH(10)", [0x34, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], PreFetch.ExecuteAsync, R),
            new(OperationCode.SynchronizeCache10, -1, "SYNCHRONIZE CACHE(10)", [0x35, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], SynchronizeCache.ExecuteAsync, W, None, 0, MediaTimeout),
            new(OperationCode.ReadDefectData10, -1, "READ DEFECT DATA(10)", [0x37, 0, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, C], ReadDefectData.ExecuteAsync, R),
            new(OperationCode.WriteSame10, -1, "WRITE SAME(10)", [0x41, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, C], WriteSame.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.Unmap, -1, "UNMAP", [0x42, 0x01, 0, 0, 0, 0, 0x1F, 0xFF, 0xFF, C], Unmap.ExecuteAsync, W, Media | ThinOnly, 0, MediaTimeout),
            new(OperationCode.ModeSelect10, -1, "MODE SELECT(10)", [0x55, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF, C], ModeSelect.ExecuteAsync, W, AllowedInStandby),
            new(OperationCode.Reserve10, -1, "RESERVE(10)", [0x56, 0, 0, 0, 0, 0, 0, 0, 0, C], ReserveRelease.ReserveAsync, A),
            new(OperationCode.Release10, -1, "RELEASE(10)", [0x57, 0, 0, 0, 0, 0, 0, 0, 0, C], ReserveRelease.ReleaseAsync, A, AllowedUnderSpc2Reservation),
            new(OperationCode.ModeSense10, -1, "MODE SENSE(10)", [0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, C], ModeSense.ExecuteAsync, R, AllowedInStandby),
            .. PersistentReserveIn(A),
            .. PersistentReserveOut(A),
            new(OperationCode.Read16, -1, "READ(16)", [0x88, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], ReadWrite.ReadAsync, R, None, 0, MediaTimeout),
            new(OperationCode.CompareAndWrite, -1, "COMPARE AND WRITE", [0x89, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0x1F, C], CompareAndWrite.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.Write16, -1, "WRITE(16)", [0x8A, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], ReadWrite.WriteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.OrWrite16, -1, "ORWRITE(16)", [0x8B, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], OrWrite.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.WriteAndVerify16, -1, "WRITE AND VERIFY(16)", [0x8E, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], WriteAndVerify.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.Verify16, -1, "VERIFY(16)", [0x8F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], Verify.ExecuteAsync, R, None, 0, MediaTimeout),
            new(OperationCode.PreFetch16, -1, "PRE-FETCH(16)", [0x90, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], PreFetch.ExecuteAsync, R),
            new(OperationCode.SynchronizeCache16, -1, "SYNCHRONIZE CACHE(16)", [0x91, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], SynchronizeCache.ExecuteAsync, W, None, 0, MediaTimeout),
            new(OperationCode.WriteSame16, -1, "WRITE SAME(16)", [0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], WriteSame.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.ServiceActionIn16, ServiceAction.ReadCapacity16, "READ CAPACITY(16)", [0x9E, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, C], ReadCapacity.Execute16Async, A),
            new(OperationCode.ServiceActionIn16, ServiceAction.GetLbaStatus, "GET LBA STATUS", [0x9E, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, C], GetLbaStatus.ExecuteAsync, R),
            new(OperationCode.ReportLuns, -1, "REPORT LUNS", [0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, C], ReportLunsAsync, A, Always | IgnoresUnitAttention),
            new(OperationCode.MaintenanceIn, ServiceAction.ReportTargetPortGroups, "REPORT TARGET PORT GROUPS", [0xA3, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, C], ReportTargetPortGroups.ExecuteAsync, A, Always),
            new(OperationCode.MaintenanceIn, ServiceAction.ReportSupportedOperationCodes, "REPORT SUPPORTED OPERATION CODES", [0xA3, 0x1F, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, C], ReportSupportedOperationCodes.ExecuteAsync, A, Always),
            new(OperationCode.Read12, -1, "READ(12)", [0xA8, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], ReadWrite.ReadAsync, R, None, 0, MediaTimeout),
            new(OperationCode.Write12, -1, "WRITE(12)", [0xAA, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], ReadWrite.WriteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.WriteAndVerify12, -1, "WRITE AND VERIFY(12)", [0xAE, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], WriteAndVerify.ExecuteAsync, W, Media, 0, MediaTimeout),
            new(OperationCode.Verify12, -1, "VERIFY(12)", [0xAF, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, C], Verify.ExecuteAsync, R, None, 0, MediaTimeout),
            new(OperationCode.ReadDefectData12, -1, "READ DEFECT DATA(12)", [0xB7, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, C], ReadDefectData.ExecuteAsync, R),
        ];

        foreach (var d in All)
        {
            if (d.HasServiceAction)
                (ByServiceAction[d.Opcode] ??= new CommandDescriptor?[32])[d.ServiceAction] = d;
            else
                ByOpcode[d.Opcode] = d;
        }
    }

    private static IEnumerable<CommandDescriptor> PersistentReserveIn(ReservationAccess access)
    {
        string[] names = ["READ KEYS", "READ RESERVATION", "REPORT CAPABILITIES", "READ FULL STATUS"];
        for (int sa = 0; sa < names.Length; sa++)
            yield return new(OperationCode.PersistentReserveIn, sa, $"PERSISTENT RESERVE IN / {names[sa]}",
                [0x5E, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF, C], Commands.PersistentReserveIn.ExecuteAsync, access,
                AllowedInStandby | AllowedUnderSpc2Reservation);
    }

    private static IEnumerable<CommandDescriptor> PersistentReserveOut(ReservationAccess access)
    {
        string[] names = ["REGISTER", "RESERVE", "RELEASE", "CLEAR", "PREEMPT", "PREEMPT AND ABORT", "REGISTER AND IGNORE EXISTING KEY", "REGISTER AND MOVE"];
        for (int sa = 0; sa < names.Length; sa++)
            yield return new(OperationCode.PersistentReserveOut, sa, $"PERSISTENT RESERVE OUT / {names[sa]}",
                [0x5F, 0x1F, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, C], Commands.PersistentReserveOut.ExecuteAsync, access,
                AllowedInStandby);
    }

    private static ValueTask ReportLunsAsync(LogicalUnits.ScsiLogicalUnit unit, Transport.ScsiCommand command, CancellationToken cancellationToken)
    {
        ReportLuns.Execute(unit.ReportedLuns(), command);
        return ValueTask.CompletedTask;
    }

    /// <summary>Finds the descriptor for a CDB; on failure <paramref name="invalidField"/> is set for bad service actions, null for unknown opcodes.</summary>
    public static CommandDescriptor? Lookup(ReadOnlySpan<byte> cdb, bool thin, out FieldPointer? invalidField)
    {
        invalidField = null;
        if (cdb.Length == 0)
            return null;
        byte opcode = cdb[0];
        var d = ByOpcode[opcode];
        if (d is null)
        {
            var table = ByServiceAction[opcode];
            if (table is null || cdb.Length < 2)
                return null;
            d = table[cdb[1] & 0x1F];
            if (d is null)
            {
                invalidField = FieldPointer.Cdb(1, 4);
                return null;
            }
        }
        if ((d.Flags & ThinOnly) != 0 && !thin)
            return null;
        if (cdb.Length < d.CdbLength)
        {
            invalidField = FieldPointer.Cdb(0);
            return null;
        }
        return d;
    }

    /// <summary>The descriptor for an opcode (and service action, or -1), as RSOC reports it.</summary>
    public static CommandDescriptor? Find(byte opcode, int serviceAction, bool thin)
    {
        CommandDescriptor? d = serviceAction < 0
            ? ByOpcode[opcode]
            : serviceAction < 32 ? ByServiceAction[opcode]?[serviceAction] : null;
        if (d is not null && (d.Flags & ThinOnly) != 0 && !thin)
            return null;
        return d;
    }

    public static OpcodeKind KindOf(byte opcode, bool thin)
    {
        if (Find(opcode, -1, thin) is not null)
            return OpcodeKind.Plain;
        return ByServiceAction[opcode] is not null ? OpcodeKind.WithServiceActions : OpcodeKind.Unknown;
    }

    /// <summary>
    /// SPC-4 §4.2.5: bits outside the usage mask are reserved and must be zero. The control byte
    /// is checked only for NACA (ACA is not supported); its vendor bits are ignored.
    /// </summary>
    public static FieldPointer? FindReservedBit(ReadOnlySpan<byte> cdb, CommandDescriptor descriptor)
    {
        var mask = descriptor.UsageMask;
        int last = mask.Length - 1;
        for (int i = 1; i < last; i++)
        {
            int bad = cdb[i] & ~mask[i];
            if (bad != 0)
                return FieldPointer.Cdb(i, 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)bad));
        }
        if ((cdb[last] & 0x04) != 0)
            return FieldPointer.Cdb(last, 2);
        return null;
    }
}
