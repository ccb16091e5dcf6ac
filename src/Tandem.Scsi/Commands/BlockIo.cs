using System.Buffers;
using System.Runtime.CompilerServices;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// The media-access core shared by READ, WRITE, VERIFY and friends: LBA range checks and
/// transfers between the command buffers and the device, honouring short data buffers.
/// </summary>
public static class BlockIo
{
    /// <summary>
    /// SBC-3 §4.5: fails with LBA OUT OF RANGE unless [lba, lba+blocks) lies on the medium. A
    /// zero-length range must still start on the medium.
    /// </summary>
    public static bool CheckRange(ScsiLogicalUnit unit, ScsiCommand command, ulong lba, ulong blocks)
    {
        ulong capacity = (ulong)unit.Device.BlockCount;
        ulong span = Math.Max(blocks, 1UL);
        if (span <= capacity && lba <= capacity - span)
            return true;
        SenseData.SetCheckCondition(command, SenseCodes.LbaOutOfRange);
        return false;
    }

    /// <summary>Fails with INVALID FIELD IN CDB when a transfer exceeds the advertised maximum.</summary>
    public static bool CheckTransferLength(ScsiLogicalUnit unit, ScsiCommand command, ulong blocks, int fieldByte)
    {
        if (blocks <= (ulong)BlockLimits.MaxTransferBlocks(unit.Device.BlockSize))
            return true;
        Respond.InvalidCdbField(command, fieldByte);
        return false;
    }

    /// <summary>
    /// Reads <paramref name="blocks"/> blocks into DataIn. TransferLength is the full amount the
    /// CDB asks for; when the initiator's buffer is shorter only what fits is read. Returns the
    /// device's own ValueTask when the buffer is whole, so a synchronous device costs nothing.
    /// </summary>
    public static ValueTask ReadAsync(ScsiLogicalUnit unit, ScsiCommand command, long lba, int blocks, CancellationToken cancellationToken)
    {
        int bytes = blocks * unit.Device.BlockSize;
        command.TransferLength = bytes;
        if (bytes == 0)
            return ValueTask.CompletedTask;
        if (command.DataIn.Length >= bytes)
            return unit.Device.ReadAsync(lba, command.DataIn[..bytes], cancellationToken);
        return ReadPartialAsync(unit, command, lba, cancellationToken);
    }

    private static async ValueTask ReadPartialAsync(ScsiLogicalUnit unit, ScsiCommand command, long lba, CancellationToken cancellationToken)
    {
        int blockSize = unit.Device.BlockSize;
        var dataIn = command.DataIn;
        int wholeBlocks = dataIn.Length / blockSize;
        if (wholeBlocks > 0)
            await unit.Device.ReadAsync(lba, dataIn[..(wholeBlocks * blockSize)], cancellationToken).ConfigureAwait(false);
        int tail = dataIn.Length - wholeBlocks * blockSize;
        if (tail == 0)
            return;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(blockSize);
        try
        {
            await unit.Device.ReadAsync(lba + wholeBlocks, scratch.AsMemory(0, blockSize), cancellationToken).ConfigureAwait(false);
            scratch.AsSpan(0, tail).CopyTo(dataIn.Span[(wholeBlocks * blockSize)..]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Writes the whole blocks of DataOut that the CDB covers. TransferLength is what the CDB asks
    /// for; when the initiator sent less (iSCSI EDTL below the SCSI transfer length) only the
    /// blocks actually received are written, which is what libiscsi's residual tests expect.
    /// Completes synchronously, without allocating, when the device does.
    /// </summary>
    public static ValueTask WriteAsync(ScsiLogicalUnit unit, ScsiCommand command, long lba, int blocks, bool forceUnitAccess, CancellationToken cancellationToken)
    {
        int blockSize = unit.Device.BlockSize;
        int bytes = blocks * blockSize;
        command.TransferLength = bytes;
        int received = Math.Min(bytes, command.DataOut.Length) / blockSize * blockSize;
        if (received == 0)
            return ValueTask.CompletedTask;
        var gate = unit.WriteGate;
        var enter = gate.EnterSharedAsync(cancellationToken);
        if (!enter.IsCompletedSuccessfully)
            return WriteAfterGateAsync(unit, enter, lba, command.DataOut[..received], unit.WriteFlagsFor(forceUnitAccess), cancellationToken);
        ValueTask write;
        try
        {
            write = unit.Device.WriteAsync(lba, command.DataOut[..received], unit.WriteFlagsFor(forceUnitAccess), cancellationToken);
        }
        catch
        {
            gate.ExitShared();
            throw;
        }
        if (write.IsCompletedSuccessfully)
        {
            write.GetAwaiter().GetResult();
            gate.ExitShared();
            return ValueTask.CompletedTask;
        }
        return CompleteWriteAsync(gate, write);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask WriteAfterGateAsync(ScsiLogicalUnit unit, ValueTask enter, long lba, ReadOnlyMemory<byte> data, Tandem.Storage.WriteFlags flags, CancellationToken cancellationToken)
    {
        await enter.ConfigureAwait(false);
        try
        {
            await unit.Device.WriteAsync(lba, data, flags, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            unit.WriteGate.ExitShared();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask CompleteWriteAsync(WriteGate gate, ValueTask write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        finally
        {
            gate.ExitShared();
        }
    }

    /// <summary>Index of the first differing byte, or -1.</summary>
    public static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = a.CommonPrefixLength(b);
        return n == Math.Min(a.Length, b.Length) && a.Length == b.Length ? -1 : n;
    }
}
