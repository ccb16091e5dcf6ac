namespace Tandem.Replication.Ordering;

/// <summary>A run of consecutive blocks: <paramref name="BlockCount"/> blocks from <paramref name="Lba"/>.</summary>
public readonly record struct BlockRun(long Lba, long BlockCount)
{
    /// <summary>The first block after the run.</summary>
    public long End => Lba + BlockCount;

    public override string ToString() => $"[{Lba}+{BlockCount}]";
}
