using System.Numerics;

namespace Tandem.Replication.Sync;

/// <summary>
/// Which extents (64 KiB each, <see cref="ReplicaLimits.ExtentBytes"/>) a partner is missing: the
/// <c>ram</c> synchronization journal (2 MiB of bits per TiB). Marking is lock-free, so writes
/// that run while a partner is away pay one atomic OR per extent touched.
/// </summary>
public sealed class DirtyBitmap
{
    private ulong[] _words;
    private long _extentCount;

    public DirtyBitmap(long deviceBytes, int blockSize)
    {
        BlockSize = blockSize;
        BlocksPerExtent = ReplicaLimits.ExtentBytes / blockSize;
        _extentCount = ExtentsFor(deviceBytes);
        _words = new ulong[(_extentCount + 63) / 64];
    }

    public int BlockSize { get; }
    public int BlocksPerExtent { get; }
    public long ExtentCount => Volatile.Read(ref _extentCount);

    /// <summary>Extents currently marked.</summary>
    public long DirtyExtents
    {
        get
        {
            long count = 0;
            foreach (ulong word in Volatile.Read(ref _words))
                count += BitOperations.PopCount(word);
            return count;
        }
    }

    /// <summary>Bytes a fast sync would copy now.</summary>
    public long DirtyBytes => DirtyExtents * ReplicaLimits.ExtentBytes;

    /// <summary>Marks every extent the block range touches.</summary>
    public void MarkBlocks(long lba, long blockCount)
    {
        if (blockCount <= 0)
            return;
        long first = lba / BlocksPerExtent;
        long last = (lba + blockCount - 1) / BlocksPerExtent;
        ulong[] words = Volatile.Read(ref _words);
        for (long extent = first; extent <= last && extent < words.Length * 64L; extent++)
            Interlocked.Or(ref words[extent >> 6], 1UL << (int)(extent & 63));
    }

    /// <summary>Marks one extent (a partner's doubtful extent after a crash).</summary>
    public void MarkExtent(long extent) => MarkBlocks(extent * BlocksPerExtent, 1);

    /// <summary>Marks every extent (nothing is known about the partner: a full sync).</summary>
    public void MarkAll()
    {
        ulong[] words = Volatile.Read(ref _words);
        long extents = ExtentCount;
        for (long extent = 0; extent < extents; extent++)
            Interlocked.Or(ref words[extent >> 6], 1UL << (int)(extent & 63));
    }

    public bool IsDirty(long extent)
    {
        ulong[] words = Volatile.Read(ref _words);
        return extent >= 0 && extent < ExtentCount && (Volatile.Read(ref words[extent >> 6]) & (1UL << (int)(extent & 63))) != 0;
    }

    /// <summary>Clears one extent (after it was copied, under the sync range lock).</summary>
    public void Clear(long extent)
    {
        ulong[] words = Volatile.Read(ref _words);
        Interlocked.And(ref words[extent >> 6], ~(1UL << (int)(extent & 63)));
    }

    public void ClearAll() => Array.Clear(Volatile.Read(ref _words));

    /// <summary>The first dirty extent at or after <paramref name="from"/>, or -1.</summary>
    public long NextDirty(long from)
    {
        ulong[] words = Volatile.Read(ref _words);
        long extents = ExtentCount;
        for (long extent = Math.Max(0, from); extent < extents;)
        {
            ulong word = Volatile.Read(ref words[extent >> 6]) >> (int)(extent & 63);
            if (word != 0)
            {
                long found = extent + BitOperations.TrailingZeroCount(word);
                return found < extents ? found : -1;
            }
            extent = (extent | 63) + 1;
        }
        return -1;
    }

    /// <summary>Grows with the device (online extend); new extents start clean.</summary>
    /// <summary>The marked extents, in order (read while marks may still change: a snapshot of no instant).</summary>
    public List<long> MarkedExtents()
    {
        var extents = new List<long>();
        for (long e = NextDirty(0); e >= 0; e = NextDirty(e + 1))
            extents.Add(e);
        return extents;
    }

    public void Resize(long deviceBytes)
    {
        long extents = ExtentsFor(deviceBytes);
        lock (this)
        {
            if (extents <= _extentCount)
                return;
            var words = _words;
            if ((extents + 63) / 64 > words.Length)
                Array.Resize(ref words, (int)((extents + 63) / 64));
            Volatile.Write(ref _words, words);
            Volatile.Write(ref _extentCount, extents);
        }
    }

    private static long ExtentsFor(long deviceBytes) => (deviceBytes + ReplicaLimits.ExtentBytes - 1) / ReplicaLimits.ExtentBytes;
}
