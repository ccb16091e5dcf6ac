using Tandem.Storage;
using System.Buffers;
using System.Numerics;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// ORWRITE(16) — SBC-3 §5.6: ORs data-out into the blocks atomically (read-modify-write under the
/// exclusive write gate, like COMPARE AND WRITE).
/// </summary>
public static class OrWrite
{
    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!ReadWrite.Decode(unit, command, out long lba, out int blocks, out bool fua))
            return;
        int blockSize = unit.Device.BlockSize;
        int bytes = blocks * blockSize;
        command.TransferLength = bytes;
        int received = Math.Min(bytes, command.DataOut.Length) / blockSize * blockSize;
        if (received == 0)
            return;

        byte[] medium = ArrayPool<byte>.Shared.Rent(received);
        await unit.WriteGate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        var shared = unit.Device as IRangeLockingDevice; // an HA device: also lock out the other nodes' writes
        IAsyncDisposable? rangeLock = null;
        try
        {
            if (shared is not null)
                rangeLock = await shared.LockRangeAsync(lba, received / blockSize, cancellationToken).ConfigureAwait(false);
            var buffer = medium.AsMemory(0, received);
            await unit.Device.ReadAsync(lba, buffer, cancellationToken).ConfigureAwait(false);
            OrInto(buffer.Span, command.DataOut.Span[..received]);
            if (shared is not null)
                await shared.WriteLockedAsync(lba, buffer, unit.WriteFlagsFor(fua), cancellationToken).ConfigureAwait(false);
            else
                await unit.Device.WriteAsync(lba, buffer, unit.WriteFlagsFor(fua), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (rangeLock is not null)
                await rangeLock.DisposeAsync().ConfigureAwait(false);
            unit.WriteGate.ExitExclusive();
            ArrayPool<byte>.Shared.Return(medium);
        }
    }

    private static void OrInto(Span<byte> target, ReadOnlySpan<byte> source)
    {
        int i = 0;
        for (; i + Vector<byte>.Count <= target.Length; i += Vector<byte>.Count)
            (new Vector<byte>(target[i..]) | new Vector<byte>(source[i..])).CopyTo(target[i..]);
        for (; i < target.Length; i++)
            target[i] |= source[i];
    }
}
