namespace Tandem.Storage.Threading;

/// <summary>
/// Marks the calling thread as one that must not wait for a disk: an iSCSI connection's receive
/// loop running a READ or WRITE itself instead of handing it to a worker. Inside the scope a
/// device completes synchronously only when the data is at hand (page cache, RAM); anything
/// that would wait for the medium (a page-cache miss, a FUA write's fdatasync) continues on a
/// worker thread, and the caller gets an incomplete ValueTask.
/// </summary>
/// <remarks>
/// The scope may carry the receive loop's <see cref="DeferredFlushes"/>: a replication link
/// that would send a frame on its own puts the send off until the receive loop has worked
/// through everything it received, so the writes of one receive leave in one send.
/// Thread-static on purpose: the scope covers the synchronous part of one call. Code that
/// continues after an await runs elsewhere, outside the scope, and may block as usual.
/// </remarks>
public static class NoWait
{
    [ThreadStatic] private static int t_depth;
    [ThreadStatic] private static DeferredFlushes? t_deferred;

    /// <summary>True when the calling thread must not block on the medium.</summary>
    public static bool IsActive => t_depth > 0;

    public static Scope Enter(DeferredFlushes? deferred = null)
    {
        var scope = new Scope(t_deferred);
        t_depth++;
        if (deferred is not null)
            t_deferred = deferred;
        return scope;
    }

    /// <summary>True when a receive loop's batch is open on this thread (<see cref="TryDefer"/> would take a flush).</summary>
    public static bool CanDefer => t_depth > 0 && t_deferred is not null;

    /// <summary>
    /// Puts <paramref name="flush"/> off to the end of the calling receive loop's batch. False
    /// when no batch is open on this thread: the caller flushes as it would have.
    /// </summary>
    public static bool TryDefer(IDeferredFlush flush)
    {
        if (t_depth == 0 || t_deferred is not { } deferred)
            return false;
        deferred.Add(flush);
        return true;
    }

    public readonly struct Scope : IDisposable
    {
        private readonly DeferredFlushes? _previous;

        internal Scope(DeferredFlushes? previous) => _previous = previous;

        public void Dispose()
        {
            t_depth--;
            t_deferred = _previous;
        }
    }
}

/// <summary>Something that sends what it has queued (a replication link).</summary>
public interface IDeferredFlush
{
    void Flush();
}

/// <summary>
/// Flushes a receive loop has put off (<see cref="NoWait.TryDefer"/>), run once when it has
/// worked through what one receive brought. Used by that one loop only; allocation-free once
/// its list has grown to the number of links in use.
/// </summary>
public sealed class DeferredFlushes
{
    private readonly List<IDeferredFlush> _pending = new(4);

    internal void Add(IDeferredFlush flush)
    {
        if (!_pending.Contains(flush))
            _pending.Add(flush);
    }

    /// <summary>
    /// Runs every deferred flush once, in the order they were put off: replication links, put
    /// off by a write before its local copy, send before that copy is written.
    /// </summary>
    public void Run()
    {
        // Each flush leaves the list before it runs: one that throws cannot be run twice, and
        // one deferred again meanwhile (by a continuation it completed) stays for the next run.
        while (_pending.Count > 0)
        {
            IDeferredFlush flush = _pending[0];
            _pending.RemoveAt(0);
            flush.Flush();
        }
    }
}
