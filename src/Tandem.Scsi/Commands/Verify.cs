using System.Buffers;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>VERIFY (10), (12), (16) — SBC-3 §5.27-5.30.</summary>
public static class Verify
{
    private const int NoCompare = 0;
    private const int CompareAll = 1;
    private const int CompareOneBlockAgainstEach = 3;

    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        var cdb = new BlockCdb(command.Cdb);
        if (cdb.Protect != 0)
        {
            Respond.InvalidCdbField(command, 1, 7);
            return;
        }
        int byteCheck = cdb.ByteCheck;
        if (byteCheck == 2)
        {
            Respond.InvalidCdbField(command, 1, 2);
            return;
        }
        ulong length = cdb.TransferLength;
        if (!BlockIo.CheckRange(unit, command, cdb.Lba, length))
            return;
        // BYTCHK=0: medium verification only; our media report errors on read, nothing to do here.
        if (byteCheck == NoCompare || length == 0)
            return;
        if (!BlockIo.CheckTransferLength(unit, command, length, cdb.LengthByte))
            return;

        int blockSize = unit.Device.BlockSize;
        int blocks = (int)length;
        int mediumBytes = blocks * blockSize;
        int expectedOut = byteCheck == CompareAll ? mediumBytes : blockSize;
        command.TransferLength = expectedOut;
        int compareLength = Math.Min(expectedOut, command.DataOut.Length);

        byte[] medium = ArrayPool<byte>.Shared.Rent(mediumBytes);
        try
        {
            await unit.Device.ReadAsync((long)cdb.Lba, medium.AsMemory(0, mediumBytes), cancellationToken).ConfigureAwait(false);
            int miscompare = byteCheck == CompareOneBlockAgainstEach
                ? CompareEachBlock(medium.AsSpan(0, mediumBytes), command.DataOut.Span[..Math.Min(blockSize, command.DataOut.Length)], blockSize)
                : BlockIo.FirstDifference(medium.AsSpan(0, compareLength), command.DataOut.Span[..compareLength]);
            if (miscompare >= 0)
                SenseData.SetCheckCondition(command, SenseCodes.MiscompareDuringVerify, information: (uint)miscompare);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(medium);
        }
    }

    private static int CompareEachBlock(ReadOnlySpan<byte> medium, ReadOnlySpan<byte> pattern, int blockSize)
    {
        for (int offset = 0; offset < medium.Length; offset += blockSize)
        {
            int diff = BlockIo.FirstDifference(medium.Slice(offset, pattern.Length), pattern);
            if (diff >= 0)
                return offset + diff;
        }
        return -1;
    }
}
