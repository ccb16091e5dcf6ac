namespace Tandem.Replication.Ordering;

/// <summary>
/// An async lock over block ranges: overlapping holders exclude each other, disjoint ranges proceed
/// concurrently. A node uses one as the short apply lock around "plan or stamp, write, record", and
/// another as the origin lock a locally accepted write holds for its whole replication round trip
/// (which fences wait for).
/// </summary>
/// <remarks>
/// <para>Fair: holders and waiters form one queue in arrival order, and a request waits for every
/// earlier overlapping entry, waiting or held. A stream of small writes therefore cannot starve a
/// large range (a fence) that arrived before them, at the cost of a small write waiting behind a
/// large waiter it would not conflict with directly.</para>
/// <para>The uncontended path is synchronous and allocation-free: queue entries are pooled and the
/// returned <see cref="ValueTask{TResult}"/> wraps the holder directly. Lookups are linear scans of the
/// queue, which is short (the device's queue depth); contended grants scan it once per waiter.</para>
/// <para>Waiters resume asynchronously (never on the releasing thread), so releasing never runs
/// foreign code. Cancelling a waiter removes it and wakes the waiters it was holding back; a waiter
/// that was already granted keeps the lock.</para>
/// </remarks>
public sealed partial class RangeLock
{
    /// <summary>Entries kept for reuse beyond the ones in use; more would only pin memory after a burst.</summary>
    private const int MaxPooled = 256;

    private readonly Lock _sync = new();
    private Entry? _head;
    private Entry? _tail;
    private Entry? _pool;
    private int _pooled;
    private int _held;
    private int _waiting;

    /// <summary>Ranges currently held.</summary>
    public int HeldCount => Volatile.Read(ref _held);

    /// <summary>Requests currently waiting.</summary>
    public int WaitingCount => Volatile.Read(ref _waiting);

    /// <summary>
    /// Acquires <paramref name="blockCount"/> blocks from <paramref name="lba"/>; dispose the holder to
    /// release. Completes synchronously when no earlier entry overlaps. Cancellation applies only while
    /// waiting (an already cancelled token fails at once, even if the range is free).
    /// </summary>
    public ValueTask<Holder> AcquireAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        BlockRanges.Validate(lba, blockCount);
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<Holder>(cancellationToken);
        long end = lba + blockCount;
        Entry entry;
        short version;
        lock (_sync)
        {
            bool blocked = OverlapsBefore(null, lba, end);
            entry = Rent(lba, end);
            Append(entry);
            if (!blocked)
            {
                entry.State = EntryState.Held;
                _held++;
                return new ValueTask<Holder>(new Holder(this, entry, entry.Generation));
            }
            entry.State = EntryState.Waiting;
            entry.Token = cancellationToken;
            _waiting++;
            version = entry.Core.Version;
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Registered outside the lock: a token cancelled meanwhile runs the callback right here,
            // and the callback takes the lock.
            CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(
                static (state, _) => ((Entry)state!).Owner.Cancel((Entry)state), entry);
            bool stored = false;
            lock (_sync)
            {
                // Still waiting: the grant (or the callback) takes it from here. Otherwise the entry was
                // granted or cancelled already; the entry cannot have been recycled, since the caller
                // has not seen the ValueTask yet.
                if (entry.State == EntryState.Waiting)
                {
                    entry.Registration = registration;
                    stored = true;
                }
            }
            if (!stored)
                registration.Dispose();
        }
        return new ValueTask<Holder>(entry, version);
    }

    /// <summary>True when an entry before <paramref name="before"/> (all entries when null) overlaps [start, end).</summary>
    private bool OverlapsBefore(Entry? before, long start, long end)
    {
        for (Entry? e = _head; e != before; e = e.Next)
        {
            if (e!.Start < end && start < e.End)
                return true;
        }
        return false;
    }

    private void Release(Entry entry, long generation)
    {
        Entry? granted = null;
        lock (_sync)
        {
            // A stale holder (disposed twice, or a copy disposed after the first): the entry was
            // recycled, and may even be held by someone else under a newer generation. Ignore it.
            if (entry.Generation != generation || entry.State != EntryState.Held)
                return;
            Unlink(entry);
            _held--;
            if (_waiting > 0)
                granted = GrantAfterRemoval(entry.Start, entry.End);
            Return(entry);
        }
        CompleteGranted(granted);
    }

    /// <summary>Cancellation callback of a waiter.</summary>
    private void Cancel(Entry entry)
    {
        Entry? granted;
        lock (_sync)
        {
            if (entry.State != EntryState.Waiting)
                return;     // granted first: the acquisition stands
            Unlink(entry);
            _waiting--;
            entry.State = EntryState.Cancelled;
            granted = GrantAfterRemoval(entry.Start, entry.End);
        }
        CompleteGranted(granted);
        // Recycled by GetResult once the awaiter has seen the exception.
        entry.Core.SetException(new OperationCanceledException(entry.Token));
    }

    /// <summary>
    /// After [start, end) left the queue, grants the waiters it held back that no earlier entry still
    /// blocks. Only waiters overlapping the removed range can become free: granting a waiter does not
    /// change what it blocks. Returns them chained through <see cref="Entry.NextGranted"/>.
    /// </summary>
    private Entry? GrantAfterRemoval(long start, long end)
    {
        Entry? chain = null;
        for (Entry? e = _head; e != null; e = e.Next)
        {
            if (e.State != EntryState.Waiting || !(e.Start < end && start < e.End))
                continue;
            if (OverlapsBefore(e, e.Start, e.End))
                continue;
            e.State = EntryState.Held;
            _waiting--;
            _held++;
            e.NextGranted = chain;
            chain = e;
        }
        return chain;
    }

    /// <summary>Outside the lock: drop each granted waiter's cancellation registration (waiting for a
    /// callback already running, which will find it held and leave it), then wake it.</summary>
    private void CompleteGranted(Entry? chain)
    {
        while (chain != null)
        {
            Entry e = chain;
            chain = e.NextGranted;
            e.NextGranted = null;
            e.Registration.Dispose();
            e.Registration = default;
            e.Token = default;
            e.Core.SetResult(new Holder(this, e, e.Generation));
        }
    }

    private void Append(Entry entry)
    {
        entry.Prev = _tail;
        entry.Next = null;
        if (_tail is null)
            _head = entry;
        else
            _tail.Next = entry;
        _tail = entry;
    }

    private void Unlink(Entry entry)
    {
        if (entry.Prev is null)
            _head = entry.Next;
        else
            entry.Prev.Next = entry.Next;
        if (entry.Next is null)
            _tail = entry.Prev;
        else
            entry.Next.Prev = entry.Prev;
        entry.Prev = entry.Next = null;
    }

    private Entry Rent(long start, long end)
    {
        Entry? entry = _pool;
        if (entry is null)
        {
            entry = new Entry(this);
        }
        else
        {
            _pool = entry.Next;
            entry.Next = null;
            _pooled--;
        }
        entry.Start = start;
        entry.End = end;
        entry.Core.Reset();
        return entry;
    }

    /// <summary>Recycles an entry that left the queue. The new generation invalidates stale holders.</summary>
    private void Return(Entry entry)
    {
        entry.Generation++;
        entry.State = EntryState.Free;
        entry.Token = default;
        entry.Registration = default;
        if (_pooled >= MaxPooled)
            return;
        entry.Next = _pool;
        _pool = entry;
        _pooled++;
    }

    /// <summary>Called by a cancelled entry's GetResult.</summary>
    private void ReturnCancelled(Entry entry)
    {
        lock (_sync)
            Return(entry);
    }

    /// <summary>
    /// A held range; <see cref="Dispose"/> releases it. Disposing twice, or disposing a copy after the
    /// original, is ignored (the entry's generation no longer matches), so it cannot release someone
    /// else's range; <c>default(Holder)</c> disposes as a no-op.
    /// </summary>
    public readonly struct Holder : IDisposable
    {
        private readonly RangeLock? _owner;
        private readonly Entry? _entry;
        private readonly long _generation;

        internal Holder(RangeLock owner, Entry entry, long generation)
        {
            _owner = owner;
            _entry = entry;
            _generation = generation;
        }

        public void Dispose() => _owner?.Release(_entry!, _generation);
    }
}
