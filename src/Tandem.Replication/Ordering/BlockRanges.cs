namespace Tandem.Replication.Ordering;

/// <summary>Argument checks shared by the ordering types, so that a bad range fails at the call
/// instead of corrupting an interval structure (an empty or wrapping range has no sensible order).</summary>
internal static class BlockRanges
{
    public static void Validate(long lba, long blockCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lba);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        if (blockCount > long.MaxValue - lba)
            throw new ArgumentOutOfRangeException(nameof(blockCount), blockCount, "The range ends beyond the largest block address.");
    }
}
