namespace Tandem.Replication.Ordering;

/// <summary>
/// The in-flight stamp map: for block ranges, the stamp of the newest write applied there that an
/// older write might still overtake (arrive late from a peer). A remote write skips the blocks whose
/// recorded stamp is newer than its own; entries are forgotten once no peer can send an older write.
/// </summary>
/// <remarks>
/// <para>Entries are non-overlapping half-open intervals kept sorted by address in one array: with
/// the few dozen to few hundred live entries of a busy device, a binary search plus a memmove beats
/// any tree, and nothing is allocated per write once the array has grown to the working set.</para>
/// <para>Thread-safe with a short internal lock. Callers hold a range lock around
/// "plan, write the data, record" so that this is atomic per range; different ranges proceed
/// concurrently and only meet here for a few hundred nanoseconds.</para>
/// </remarks>
public sealed class StampMap
{
    /// <summary>Blocks [Start, End) last written by the write stamped <see cref="Stamp"/>.</summary>
    private struct Entry(long start, long end, Stamp stamp)
    {
        public long Start = start;
        public long End = end;
        public Stamp Stamp = stamp;
    }

    private readonly Lock _lock = new();
    private Entry[] _entries;
    private int _count;

    /// <summary>Replacement entries for the overlapped part while it is rebuilt (kept to avoid allocating).</summary>
    private Entry[] _scratch = new Entry[8];

    /// <summary>No entry has a Lamport value below this. Kept exact by <see cref="Forget"/> and lowered by
    /// every record (overwritten entries may leave it too low, never too high), so a <see cref="Forget"/>
    /// that cannot drop anything returns without taking the lock or scanning.</summary>
    private long _minLamport = long.MaxValue;

    public StampMap(int initialCapacity = 64)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialCapacity);
        _entries = new Entry[initialCapacity];
    }

    /// <summary>Number of entries (intervals), for tests and diagnostics.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Records <paramref name="stamp"/> on every block of the range, replacing (and splitting
    /// at the range ends) whatever was recorded there. For local writes, whose stamp is the newest the
    /// node has seen.</summary>
    public void Record(long lba, long blockCount, Stamp stamp)
    {
        BlockRanges.Validate(lba, blockCount);
        lock (_lock)
            Overlay(lba, lba + blockCount, stamp, keepNewer: false, toApply: null);
    }

    /// <summary>
    /// Plans a remote write: clears <paramref name="toApply"/> and fills it, in ascending order, with the
    /// maximal runs of the range whose recorded stamp is absent or older than <paramref name="stamp"/>,
    /// and records <paramref name="stamp"/> on exactly those runs. Blocks recorded with a newer (or the
    /// same) stamp are skipped: a newer write already landed there and must stay.
    /// </summary>
    public void PlanAndRecord(long lba, long blockCount, Stamp stamp, List<BlockRun> toApply)
    {
        ArgumentNullException.ThrowIfNull(toApply);
        BlockRanges.Validate(lba, blockCount);
        toApply.Clear();
        lock (_lock)
            Overlay(lba, lba + blockCount, stamp, keepNewer: true, toApply);
    }

    /// <summary>Drops every entry whose Lamport value is at most <paramref name="watermark"/>: no peer can
    /// still send a write older than those. Cheap when there is nothing to drop.</summary>
    public void Forget(long watermark)
    {
        // Unlocked fast exit. A concurrent record can only add entries above every peer's watermark
        // (see WriteOrdering), so reading a stale value here never leaves a forgettable entry behind.
        if (watermark < Volatile.Read(ref _minLamport))
            return;
        lock (_lock)
        {
            Entry[] entries = _entries;
            int kept = 0;
            long min = long.MaxValue;
            for (int i = 0; i < _count; i++)
            {
                Entry entry = entries[i];
                if (entry.Stamp.Lamport <= watermark)
                    continue;
                entries[kept++] = entry;
                min = Math.Min(min, entry.Stamp.Lamport);
            }
            Volatile.Write(ref _count, kept);
            Volatile.Write(ref _minLamport, min);
        }
    }

    /// <summary>The entries in address order, for tests and diagnostics (allocates).</summary>
    internal (BlockRun Run, Stamp Stamp)[] Snapshot()
    {
        lock (_lock)
        {
            var result = new (BlockRun, Stamp)[_count];
            for (int i = 0; i < _count; i++)
                result[i] = (new BlockRun(_entries[i].Start, _entries[i].End - _entries[i].Start), _entries[i].Stamp);
            return result;
        }
    }

    /// <summary>
    /// Writes <paramref name="stamp"/> over [start, end): replaces the overlapped entries (indices
    /// first..last) by a rebuilt sequence of the pieces that survive and the new runs, then splices it in.
    /// With <paramref name="keepNewer"/>, entries at least as new as the stamp survive whole and split
    /// the new stamp into several runs.
    /// </summary>
    private void Overlay(long start, long end, Stamp stamp, bool keepNewer, List<BlockRun>? toApply)
    {
        int first = FirstEndingAfter(start);
        int last = first;
        while (last < _count && _entries[last].Start < end)
            last++;
        int overlapped = last - first;

        if (overlapped == 0)
        {
            // Common case: nothing in flight here.
            Splice(first, 0, new Entry(start, end, stamp));
            toApply?.Add(new BlockRun(start, end - start));
            LowerMinimum(stamp.Lamport);
            return;
        }

        // Bound: a left and a right remainder, each surviving entry, and one run before each of them
        // plus one after the last.
        if (_scratch.Length < 2 * overlapped + 3)
            _scratch = new Entry[Math.Max(2 * overlapped + 3, _scratch.Length * 2)];
        Entry[] scratch = _scratch;
        int n = 0;
        long runStart = start;          // the pending run of blocks that get the new stamp starts here
        bool hasRight = false;
        Entry right = default;
        bool added = false;
        for (int k = first; k < last; k++)
        {
            Entry entry = _entries[k];
            if (keepNewer && entry.Stamp >= stamp)
            {
                long skipFrom = Math.Max(entry.Start, start);
                if (skipFrom > runStart)
                {
                    scratch[n++] = new Entry(runStart, skipFrom, stamp);
                    toApply?.Add(new BlockRun(runStart, skipFrom - runStart));
                    added = true;
                }
                scratch[n++] = entry;   // survives whole, including any part outside the range
                runStart = Math.Min(entry.End, end);
            }
            else
            {
                // Older: only the parts outside the range survive (only the first entry can stick out
                // on the left, only the last on the right).
                if (entry.Start < start)
                    scratch[n++] = new Entry(entry.Start, start, entry.Stamp);
                if (entry.End > end)
                {
                    right = new Entry(end, entry.End, entry.Stamp);
                    hasRight = true;
                }
            }
        }
        if (end > runStart)
        {
            scratch[n++] = new Entry(runStart, end, stamp);
            toApply?.Add(new BlockRun(runStart, end - runStart));
            added = true;
        }
        if (hasRight)
            scratch[n++] = right;

        Splice(first, overlapped, scratch.AsSpan(0, n));
        if (added)
            LowerMinimum(stamp.Lamport);
    }

    /// <summary>Index of the first entry that ends after <paramref name="lba"/> (entries are sorted by
    /// start and do not overlap, so they are sorted by end too).</summary>
    private int FirstEndingAfter(long lba)
    {
        int lo = 0, hi = _count;
        Entry[] entries = _entries;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (entries[mid].End > lba)
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo;
    }

    private void Splice(int index, int removed, Entry single) =>
        Splice(index, removed, new ReadOnlySpan<Entry>(in single));

    /// <summary>Replaces entries [index, index + removed) by <paramref name="replacement"/>.</summary>
    private void Splice(int index, int removed, ReadOnlySpan<Entry> replacement)
    {
        int newCount = _count - removed + replacement.Length;
        if (newCount > _entries.Length)
        {
            var grown = new Entry[Math.Max(newCount, _entries.Length * 2)];
            _entries.AsSpan(0, index).CopyTo(grown);
            _entries.AsSpan(index + removed, _count - index - removed).CopyTo(grown.AsSpan(index + replacement.Length));
            _entries = grown;
        }
        else if (replacement.Length != removed)
        {
            _entries.AsSpan(index + removed, _count - index - removed).CopyTo(_entries.AsSpan(index + replacement.Length));
        }
        replacement.CopyTo(_entries.AsSpan(index));
        Volatile.Write(ref _count, newCount);
    }

    private void LowerMinimum(long lamport)
    {
        if (lamport < _minLamport)
            Volatile.Write(ref _minLamport, lamport);
    }
}
