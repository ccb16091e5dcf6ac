namespace Tandem.Replication.Ordering;

/// <summary>
/// A node's Lamport clock for one replicated device. Every stamp it hands out is larger than every
/// clock value the node has observed, which is what makes a write accepted after another write was
/// acknowledged (and therefore applied here) win over it everywhere.
/// </summary>
/// <remarks>Lock-free: <see cref="Tick"/> runs once per write and must not serialize writers.</remarks>
public sealed class LamportClock
{
    private long _value;

    /// <summary>Starts at <paramref name="initial"/> (0: the first stamp has Lamport value 1, so
    /// <see cref="Stamp.Zero"/> is older than every stamp).</summary>
    public LamportClock(long initial = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initial);
        _value = initial;
    }

    public long Current => Volatile.Read(ref _value);

    /// <summary>clock = max(clock, <paramref name="seen"/>); returns the clock after the observation.</summary>
    public long Observe(long seen)
    {
        long current = Volatile.Read(ref _value);
        while (seen > current)
        {
            long previous = Interlocked.CompareExchange(ref _value, seen, current);
            if (previous == current)
                return seen;
            current = previous;
        }
        return current;
    }

    /// <summary>Advances the clock by one and returns the stamp of a write accepted by <paramref name="nodeId"/>.
    /// Concurrent ticks get distinct values, so stamps of one node never tie.</summary>
    public Stamp Tick(int nodeId) => new(Interlocked.Increment(ref _value), nodeId);

    public override string ToString() => Current.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
