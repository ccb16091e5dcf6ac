namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>
/// Every write attempted through every data node in a trial: per LBA slot, the data of each write
/// in the order they were issued, and when (if ever) the target acknowledged it. A write that is
/// not acknowledged is retried with the same data at the same LBA until it is (or the phase
/// ends), so whatever of its attempts landed, the slot holds one of the values listed for it.
/// </summary>
public sealed class WriteLedger
{
    private readonly object _lock = new();
    private readonly Dictionary<int, Dictionary<uint, List<SlotWrite>>> _regions = [];
    private readonly Dictionary<int, SlotWrite> _lastAcknowledged = [];

    /// <summary>One write's data at <see cref="Lba"/>; <see cref="AcknowledgedAt"/> null while unacknowledged.</summary>
    public sealed class SlotWrite(int region, uint lba, byte[] data, DateTime issued)
    {
        public int Region { get; } = region;
        public uint Lba { get; } = lba;
        public byte[] Data { get; } = data;
        public DateTime Issued { get; } = issued;
        public DateTime? AcknowledgedAt { get; set; }
    }

    public SlotWrite Issue(int region, uint lba, byte[] data)
    {
        var write = new SlotWrite(region, lba, data, DateTime.UtcNow);
        lock (_lock)
        {
            if (!_regions.TryGetValue(region, out var slots))
                _regions[region] = slots = [];
            if (!slots.TryGetValue(lba, out var history))
                slots[lba] = history = [];
            history.Add(write);
        }
        return write;
    }

    public void Acknowledge(SlotWrite write)
    {
        lock (_lock)
        {
            write.AcknowledgedAt = DateTime.UtcNow;
            _lastAcknowledged[write.Region] = write;
        }
    }

    public SlotWrite? LastAcknowledged(int region)
    {
        lock (_lock)
            return _lastAcknowledged.GetValueOrDefault(region);
    }

    public int AcknowledgedCount
    {
        get
        {
            lock (_lock)
                return _regions.Values.SelectMany(s => s.Values).Sum(h => h.Count(w => w.AcknowledgedAt is not null));
        }
    }

    /// <summary>
    /// Whether <paramref name="read"/> is what slot <paramref name="after"/>.Lba may hold once
    /// <paramref name="after"/> was acknowledged: that write's data, or that of a later write to the slot.
    /// </summary>
    public bool IsAtLeast(SlotWrite after, ReadOnlySpan<byte> read)
    {
        lock (_lock)
        {
            var history = _regions[after.Region][after.Lba];
            for (int i = history.IndexOf(after); i < history.Count; i++)
            {
                if (read.SequenceEqual(history[i].Data))
                    return true;
            }
            return false;
        }
    }

    /// <summary>
    /// What must read back, per slot: the values it may hold given the newest write acknowledged
    /// through <paramref name="region"/> at or before <paramref name="cutoff"/> (every
    /// acknowledgement when null): that write's data or any written to the slot after it. Slots
    /// with no such acknowledged write require nothing.
    /// </summary>
    public IReadOnlyList<Requirement> Requirements(int region, DateTime? cutoff)
    {
        lock (_lock)
        {
            if (!_regions.TryGetValue(region, out var slots))
                return [];
            var requirements = new List<Requirement>();
            foreach (var (lba, history) in slots)
            {
                int last = history.FindLastIndex(w => w.AcknowledgedAt is { } at && (cutoff is null || at <= cutoff));
                if (last >= 0)
                    requirements.Add(new Requirement(region, lba, [.. history.Skip(last).Select(w => w.Data)]));
            }
            return requirements;
        }
    }
}

/// <summary>Slot <see cref="Lba"/> must hold one of <see cref="Accepted"/> (the first is the acknowledged write).</summary>
public sealed record Requirement(int Region, uint Lba, IReadOnlyList<byte[]> Accepted)
{
    public bool IsMetBy(ReadOnlySpan<byte> read)
    {
        foreach (var data in Accepted)
        {
            if (read.SequenceEqual(data))
                return true;
        }
        return false;
    }
}
