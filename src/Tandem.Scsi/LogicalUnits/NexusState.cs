using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.LogicalUnits;

/// <summary>
/// What one logical unit keeps for one I_T nexus: its queue of pending unit attention
/// conditions (SAM-5 §5.14) and whether it prevents medium removal.
/// </summary>
public sealed class NexusState(ITNexus nexus, UnitAttentionCounter counter)
{
    /// <summary>Implementation limit: UAs queued per I_T_L nexus; SAM-5 lets a target drop the excess.</summary>
    public const int MaxPendingUnitAttentions = 16;

    private readonly Lock _lock = new();
    private readonly List<SenseCode> _pending = [];
    private volatile int _pendingCount;

    public ITNexus Nexus { get; } = nexus;

    /// <summary>Cheap, lock-free check for the command path.</summary>
    public bool HasUnitAttention => _pendingCount != 0;

    /// <summary>PREVENT ALLOW MEDIUM REMOVAL state of this nexus.</summary>
    public bool PreventsMediumRemoval { get; set; }

    /// <summary>
    /// Queues a unit attention. A reset supersedes everything queued before it (SAM-5 allows the
    /// target to report only the highest-priority condition); duplicates are not queued twice.
    /// </summary>
    public void Raise(SenseCode code)
    {
        lock (_lock)
        {
            if (code == SenseCodes.PowerOnResetOccurred)
                _pending.Clear();
            else if (_pending.Contains(code))
                return;
            if (_pending.Count >= MaxPendingUnitAttentions)
                _pending.RemoveAt(_pending.Count - 1);
            _pending.Add(code);
            SetCount(_pending.Count);
        }
    }

    /// <summary>Takes the oldest pending unit attention.</summary>
    public bool TryTake(out SenseCode code)
    {
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                code = default;
                return false;
            }
            code = _pending[0];
            _pending.RemoveAt(0);
            SetCount(_pending.Count);
            return true;
        }
    }

    /// <summary>Drops one kind of pending unit attention (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED).</summary>
    public void Clear(SenseCode code)
    {
        if (_pendingCount == 0)
            return;
        lock (_lock)
        {
            if (_pending.Remove(code))
                SetCount(_pending.Count);
        }
    }

    /// <summary>Pending unit attentions, oldest first (tests, diagnostics).</summary>
    public IReadOnlyList<SenseCode> PendingUnitAttentions()
    {
        lock (_lock)
            return _pending.ToArray();
    }

    public void ClearUnitAttentions()
    {
        lock (_lock)
        {
            _pending.Clear();
            SetCount(0);
        }
    }

    /// <summary>Keeps the logical unit's count of nexuses with pending UAs in step (caller holds the lock).</summary>
    private void SetCount(int count)
    {
        if (count > 0 && _pendingCount == 0)
            counter.Increment();
        else if (count == 0 && _pendingCount > 0)
            counter.Decrement();
        _pendingCount = count;
    }
}

/// <summary>
/// How many nexuses of a logical unit have unit attentions pending: zero almost always, which
/// lets the command path skip the per-nexus lookup entirely.
/// </summary>
public sealed class UnitAttentionCounter
{
    private int _value;

    public bool Any => Volatile.Read(ref _value) != 0;

    internal void Increment() => Interlocked.Increment(ref _value);

    internal void Decrement() => Interlocked.Decrement(ref _value);
}
