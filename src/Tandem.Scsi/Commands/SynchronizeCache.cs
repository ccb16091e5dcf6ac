using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// SYNCHRONIZE CACHE (10), (16) — SBC-3 §5.22-5.23: makes every completed write durable. The
/// device flushes as a whole, so the range only has to be valid. IMMED is honoured by simply
/// completing after the flush (allowed: IMMED only permits an early GOOD).
/// </summary>
public static class SynchronizeCache
{
    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool sixteen = cdb[0] == OperationCode.SynchronizeCache16;
        ulong lba = sixteen ? CdbReader.U64(cdb, 2) : CdbReader.U32(cdb, 2);
        ulong blocks = sixteen ? CdbReader.U32(cdb, 10) : CdbReader.U16(cdb, 7);
        if (!BlockIo.CheckRange(unit, command, lba, blocks))
            return;
        await unit.Device.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// PRE-FETCH (10), (16) — SBC-3 §5.4-5.5. Our caches manage themselves; we check the range and
/// answer GOOD ("not all blocks could be cached"), never CONDITION MET.
/// </summary>
public static class PreFetch
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool sixteen = cdb[0] == OperationCode.PreFetch16;
        ulong lba = sixteen ? CdbReader.U64(cdb, 2) : CdbReader.U32(cdb, 2);
        ulong blocks = sixteen ? CdbReader.U32(cdb, 10) : CdbReader.U16(cdb, 7);
        BlockIo.CheckRange(unit, command, lba, blocks);
        return ValueTask.CompletedTask;
    }
}
