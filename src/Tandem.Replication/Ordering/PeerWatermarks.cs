namespace Tandem.Replication.Ordering;

/// <summary>
/// Per peer, the highest clock received from it (its watermark), and the minimum over the current
/// peers. A peer whose watermark is w stamps every write it has not sent yet above w, and links are
/// FIFO, so once every peer's watermark is at least s.Lamport no write older than s can still arrive:
/// the in-flight entries up to the minimum may be forgotten.
/// </summary>
/// <remarks>
/// Callers must observe a clock only after the message carrying it, and every earlier message from
/// that peer, has been applied; otherwise a write still being applied could be overtaken. Thread-safe;
/// a replica set has at most a couple of peers, so they live in two small arrays.
/// </remarks>
public sealed class PeerWatermarks
{
    private readonly Lock _lock = new();
    private int[] _ids = new int[4];
    private long[] _clocks = new long[4];
    private int _count;
    private long _minimum = long.MaxValue;

    /// <summary>The smallest watermark of the current peers; <see cref="long.MaxValue"/> without peers
    /// (nobody can send an old write, so everything may be forgotten).</summary>
    public long Minimum => Volatile.Read(ref _minimum);

    public int Count => Volatile.Read(ref _count);

    /// <summary>Starts tracking <paramref name="peerId"/> at watermark 0, which holds back forgetting
    /// until the peer is heard from. Adding a current peer again keeps its watermark.</summary>
    public void Add(int peerId)
    {
        lock (_lock)
        {
            if (IndexOf(peerId) >= 0)
                return;
            if (_count == _ids.Length)
            {
                Array.Resize(ref _ids, _count * 2);
                Array.Resize(ref _clocks, _count * 2);
            }
            _ids[_count] = peerId;
            _clocks[_count] = 0;
            _count++;
            UpdateMinimum();
        }
    }

    /// <summary>Stops tracking <paramref name="peerId"/> (no-op when absent); the minimum may rise.</summary>
    public void Remove(int peerId)
    {
        lock (_lock)
        {
            int index = IndexOf(peerId);
            if (index < 0)
                return;
            _count--;
            _ids[index] = _ids[_count];
            _clocks[index] = _clocks[_count];
            UpdateMinimum();
        }
    }

    /// <summary>Raises the watermark of <paramref name="peerId"/> to <paramref name="clock"/> (never lowers
    /// it) and returns the new minimum. A clock from a peer that is not current is ignored: it does not
    /// originate writes, so it cannot hold anything back nor release anything.</summary>
    public long Observe(int peerId, long clock)
    {
        lock (_lock)
        {
            int index = IndexOf(peerId);
            if (index >= 0 && clock > _clocks[index])
            {
                _clocks[index] = clock;
                UpdateMinimum();
            }
            return _minimum;
        }
    }

    /// <summary>The watermark of <paramref name="peerId"/>, if it is a current peer.</summary>
    public bool TryGet(int peerId, out long watermark)
    {
        lock (_lock)
        {
            int index = IndexOf(peerId);
            watermark = index >= 0 ? _clocks[index] : 0;
            return index >= 0;
        }
    }

    private int IndexOf(int peerId) => Array.IndexOf(_ids, peerId, 0, _count);

    private void UpdateMinimum()
    {
        long min = long.MaxValue;
        for (int i = 0; i < _count; i++)
            min = Math.Min(min, _clocks[i]);
        Volatile.Write(ref _minimum, min);
    }
}
