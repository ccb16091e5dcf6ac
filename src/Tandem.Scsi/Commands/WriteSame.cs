using System.Buffers;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// WRITE SAME (10), (16) — SBC-3 §5.43-5.44. One block of data-out (or none with NDOB) is written
/// to every block of the range; with UNMAP on a thin logical unit and an all-zero block the range
/// is deallocated instead (LBPRZ: deallocated blocks read as zeros).
/// </summary>
public static class WriteSame
{
    /// <summary>Implementation limit: bytes of pattern written per device call.</summary>
    private const int PatternChunkBytes = 1024 * 1024;

    private const byte AnchorBit = 0x10;
    private const byte UnmapBit = 0x08;
    private const byte NoDataOutBit = 0x01;

    public static async ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool sixteen = cdb[0] == OperationCode.WriteSame16;
        ulong lba = sixteen ? CdbReader.U64(cdb, 2) : CdbReader.U32(cdb, 2);
        ulong blocks = sixteen ? CdbReader.U32(cdb, 10) : CdbReader.U16(cdb, 7);
        int lengthByte = sixteen ? 10 : 7;
        byte flags = cdb[1];
        bool unmap = (flags & UnmapBit) != 0;
        bool noDataOut = sixteen && (flags & NoDataOutBit) != 0;

        if (flags >> 5 != 0)
        {
            Respond.InvalidCdbField(command, 1, 7);
            return;
        }
        // ANC_SUP=0: anchored deallocation is not offered, and ANCHOR without UNMAP is always invalid.
        if ((flags & AnchorBit) != 0)
        {
            Respond.InvalidCdbField(command, 1, 4);
            return;
        }
        // LBPWS/LBPWS10 are set only on thin units; a fully provisioned unit refuses UNMAP.
        if (unmap && !unit.IsThinProvisioned)
        {
            Respond.InvalidCdbField(command, 1, 3);
            return;
        }
        if (!BlockIo.CheckRange(unit, command, lba, blocks))
            return;
        // WSNZ=1 in the Block Limits VPD page: zero blocks ("to the end of the medium") is not supported.
        if (blocks == 0 || blocks > BlockLimits.MaxWriteSameBlocks)
        {
            Respond.InvalidCdbField(command, lengthByte);
            return;
        }

        int blockSize = unit.Device.BlockSize;
        command.TransferLength = noDataOut ? 0 : blockSize;
        if (!noDataOut && command.DataOut.Length != blockSize)
        {
            Respond.InvalidCdbField(command, lengthByte);
            return;
        }
        ReadOnlyMemory<byte> pattern = noDataOut ? ReadOnlyMemory<byte>.Empty : command.DataOut[..blockSize];
        bool zeroPattern = noDataOut || !pattern.Span.ContainsAnyExcept((byte)0);

        await unit.WriteGate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (unmap && zeroPattern)
                await unit.Device.UnmapAsync((long)lba, (long)blocks, cancellationToken).ConfigureAwait(false);
            else
                await WritePatternAsync(unit, (long)lba, (long)blocks, pattern, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            unit.WriteGate.ExitShared();
        }
    }

    private static async ValueTask WritePatternAsync(ScsiLogicalUnit unit, long lba, long blocks, ReadOnlyMemory<byte> pattern, CancellationToken cancellationToken)
    {
        int blockSize = unit.Device.BlockSize;
        int chunkBlocks = (int)Math.Min(blocks, PatternChunkBytes / blockSize);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkBlocks * blockSize);
        try
        {
            var span = buffer.AsSpan(0, chunkBlocks * blockSize);
            if (pattern.IsEmpty)
                span.Clear();
            else
                for (int i = 0; i < chunkBlocks; i++)
                    pattern.Span.CopyTo(span[(i * blockSize)..]);

            var flags = unit.WriteFlagsFor(false);
            while (blocks > 0)
            {
                int n = (int)Math.Min(blocks, chunkBlocks);
                await unit.Device.WriteAsync(lba, buffer.AsMemory(0, n * blockSize), flags, cancellationToken).ConfigureAwait(false);
                lba += n;
                blocks -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
