using Tandem.Replication.Ordering;

namespace Tandem.Replication.Replicas;

/// <summary>
/// The last writes (and unmaps) this node applied from one partner: their Lamport stamps and
/// ranges, in a fixed ring. When that partner dies, its last writes may have reached the other
/// survivor differently; the survivors compare how far each got and rewrite the difference
/// (docs/design/replication.md, "A partner lost mid-send"). Written by that partner's receive
/// loop, read when it is lost.
/// </summary>
internal sealed class RecentWrites(int capacity = RecentWrites.DefaultCapacity)
{
    /// <summary>Entries kept per partner: far more than the writes one node has in flight (implementation choice).</summary>
    public const int DefaultCapacity = 4096;

    private readonly Lock _lock = new();
    private readonly (long Lamport, long Lba, long BlockCount)[] _ring = new (long, long, long)[capacity];
    private long _recorded;
    private long _newest;

    /// <summary>Stamp of the newest write applied from the partner (0: none).</summary>
    public long NewestLamport
    {
        get
        {
            lock (_lock)
                return _newest;
        }
    }

    public void Record(Stamp stamp, long lba, long blockCount)
    {
        lock (_lock)
        {
            _ring[_recorded++ % _ring.Length] = (stamp.Lamport, lba, blockCount);
            _newest = Math.Max(_newest, stamp.Lamport);
        }
    }

    /// <summary>
    /// The ranges of recorded writes stamped after <paramref name="lamport"/>, sorted and merged.
    /// <paramref name="complete"/> is false when the ring no longer reaches back that far: older
    /// entries that were above it may have been overwritten.
    /// </summary>
    public List<BlockRun> Above(long lamport, out bool complete)
    {
        var runs = new List<BlockRun>();
        lock (_lock)
        {
            long oldest = Math.Max(0, _recorded - _ring.Length);
            // Nothing was overwritten, or the oldest entry kept is already at or below the stamp
            // (a partner's writes are recorded in stamp order).
            complete = oldest == 0 || _ring[oldest % _ring.Length].Lamport <= lamport;
            for (long i = oldest; i < _recorded; i++)
            {
                var (stamp, lba, count) = _ring[i % _ring.Length];
                if (stamp > lamport)
                    runs.Add(new BlockRun(lba, count));
            }
        }
        runs.Sort((a, b) => a.Lba.CompareTo(b.Lba));
        var merged = new List<BlockRun>(runs.Count);
        foreach (var run in runs)
        {
            if (merged.Count > 0 && run.Lba <= merged[^1].End)
                merged[^1] = new BlockRun(merged[^1].Lba, Math.Max(merged[^1].End, run.End) - merged[^1].Lba);
            else
                merged.Add(run);
        }
        return merged;
    }
}
