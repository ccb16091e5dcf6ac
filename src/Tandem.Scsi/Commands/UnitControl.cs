using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>TEST UNIT READY — SPC-4 §6.37. Readiness (ALUA, reservations, UAs) is decided by the pipeline.</summary>
public static class TestUnitReady
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;
}

/// <summary>
/// START STOP UNIT — SBC-3 §5.25. Our medium is not removable (RMB=0), so LOEJ is refused. A stop
/// flushes (unless NO_FLUSH) but does not make the unit unready: the logical unit is shared by
/// every host of the cluster, and one host shutting down must not stop it for the others.
/// </summary>
public static class StartStopUnit
{
    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        byte b4 = command.Cdb[4];
        bool loadEject = (b4 & 0x02) != 0;
        bool start = (b4 & 0x01) != 0;
        bool noFlush = (b4 & 0x04) != 0;
        int powerCondition = b4 >> 4;
        if (loadEject && powerCondition == 0)
        {
            Respond.InvalidCdbField(command, 4, 1);
            return;
        }
        if (!start && !noFlush && powerCondition == 0)
            await unit.Device.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>PREVENT ALLOW MEDIUM REMOVAL — SBC-3 §5.9: recorded per I_T nexus; nothing to remove on our medium.</summary>
public static class PreventAllowMediumRemoval
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        int prevent = command.Cdb[4] & 0x03;
        if (prevent > 1)
        {
            Respond.InvalidCdbField(command, 4, 1);
            return ValueTask.CompletedTask;
        }
        unit.GetNexusState(command.Nexus).PreventsMediumRemoval = prevent == 1;
        return ValueTask.CompletedTask;
    }
}

/// <summary>READ DEFECT DATA (10), (12) — SBC-3 §5.12-5.13: a virtual medium has an empty defect list.</summary>
public static class ReadDefectData
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool twelve = cdb[0] == Cdb.OperationCode.ReadDefectData12;
        byte request = (byte)((twelve ? cdb[1] : cdb[2]) & 0x1F);
        int allocationLength = twelve ? Cdb.CdbReader.AllocationLength(cdb, 6, 4) : Cdb.CdbReader.U16(cdb, 7);
        Span<byte> header = stackalloc byte[twelve ? 8 : 4];
        header.Clear();
        header[1] = request; // PLISTV/GLISTV as requested, same format, zero-length list
        Respond.DataIn(command, header, allocationLength);
        return ValueTask.CompletedTask;
    }
}
