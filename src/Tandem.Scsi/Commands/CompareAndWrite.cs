using Tandem.Storage;
using System.Buffers;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// COMPARE AND WRITE — SBC-3 §5.2. Data-out holds the verify data then the write data, each
/// NUMBER OF LOGICAL BLOCKS long. Compare and write happen while the logical unit's write gate
/// is held exclusively, so no other write lands in between.
/// </summary>
public static class CompareAndWrite
{
    private const int NumberOfBlocksByte = 13;

    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        if (cdb[1] >> 5 != 0)
        {
            Respond.InvalidCdbField(command, 1, 7);
            return;
        }
        ulong lba = CdbReader.U64(cdb, 2);
        int blocks = cdb[NumberOfBlocksByte];
        bool fua = (cdb[1] & 0x08) != 0;
        if (!BlockIo.CheckRange(unit, command, lba, (ulong)blocks))
            return;
        if (blocks == 0)
        {
            // Zero blocks is a no-op, but not when data-out was sent for it (a 256-block request
            // truncated to the 8-bit field lands here): refuse rather than silently ignore it.
            if (command.DataOut.Length != 0)
                Respond.InvalidCdbField(command, NumberOfBlocksByte);
            return;
        }
        if (blocks > BlockLimits.MaxCompareAndWriteBlocks)
        {
            Respond.InvalidCdbField(command, NumberOfBlocksByte);
            return;
        }

        int blockSize = unit.Device.BlockSize;
        int half = blocks * blockSize;
        command.TransferLength = 2 * half;
        if (command.DataOut.Length != 2 * half)
        {
            Respond.InvalidCdbField(command, NumberOfBlocksByte);
            return;
        }

        byte[] medium = ArrayPool<byte>.Shared.Rent(half);
        await unit.WriteGate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        // An HA device also holds back writes arriving through the other nodes.
        var shared = unit.Device as IRangeLockingDevice;
        IAsyncDisposable? rangeLock = null;
        try
        {
            if (shared is not null)
                rangeLock = await shared.LockRangeAsync((long)lba, blocks, cancellationToken).ConfigureAwait(false);
            await unit.Device.ReadAsync((long)lba, medium.AsMemory(0, half), cancellationToken).ConfigureAwait(false);
            int miscompare = BlockIo.FirstDifference(medium.AsSpan(0, half), command.DataOut.Span[..half]);
            if (miscompare >= 0)
            {
                SenseData.SetCheckCondition(command, SenseCodes.MiscompareDuringVerify, information: (uint)miscompare);
                return;
            }
            var write = command.DataOut[half..];
            if (shared is not null)
                await shared.WriteLockedAsync((long)lba, write, unit.WriteFlagsFor(fua), cancellationToken).ConfigureAwait(false);
            else
                await unit.Device.WriteAsync((long)lba, write, unit.WriteFlagsFor(fua), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (rangeLock is not null)
                await rangeLock.DisposeAsync().ConfigureAwait(false);
            unit.WriteGate.ExitExclusive();
            ArrayPool<byte>.Shared.Return(medium);
        }
    }
}
