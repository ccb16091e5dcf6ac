namespace Tandem.Storage;

/// <summary>Validation shared by every device: block sizes and byte ranges.</summary>
internal static class BlockGeometry
{
    /// <summary>Logical block sizes Tandem offers (SPEC §2: 512 for Linux-based hosts, 4096 for Windows).</summary>
    public static bool IsSupportedBlockSize(int blockSize) => blockSize is 512 or 4096;

    public static void ValidateBlockSize(int blockSize, string paramName)
    {
        if (!IsSupportedBlockSize(blockSize))
            throw new ArgumentException($"Block size {blockSize} is not supported; use 512 or 4096.", paramName);
    }

    public static void ValidateSize(long sizeBytes, int blockSize, string paramName)
    {
        if (sizeBytes <= 0 || sizeBytes % blockSize != 0)
            throw new ArgumentException($"Size {sizeBytes} bytes is not a positive multiple of the block size {blockSize}.", paramName);
    }

    /// <summary>
    /// Checks that an I/O of <paramref name="length"/> bytes at <paramref name="lba"/> is whole blocks
    /// inside a device of <paramref name="blockCount"/> blocks. The SCSI layer range-checks first;
    /// this keeps a caller's bug from reading or writing outside the device.
    /// </summary>
    public static void ValidateRange(long lba, long length, int blockSize, long blockCount)
    {
        if (length % blockSize != 0)
            throw new ArgumentException($"Transfer length {length} is not a multiple of the block size {blockSize}.");
        ValidateBlocks(lba, length / blockSize, blockCount);
    }

    public static void ValidateBlocks(long lba, long blocks, long blockCount)
    {
        if (lba < 0 || blocks < 0 || lba > blockCount || blocks > blockCount - lba)
            throw new ArgumentOutOfRangeException(nameof(lba), $"Blocks {lba}+{blocks} are outside the device ({blockCount} blocks).");
    }
}
