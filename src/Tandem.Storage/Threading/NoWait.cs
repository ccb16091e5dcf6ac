namespace Tandem.Storage.Threading;

/// <summary>
/// Marks the calling thread as one that must not wait for a disk: an iSCSI connection's receive
/// loop running a READ or WRITE itself instead of handing it to a worker. Inside the scope a
/// device completes synchronously only when the data is at hand (page cache, RAM); anything
/// that would wait for the medium (a page-cache miss, a FUA write's fdatasync) continues on a
/// worker thread, and the caller gets an incomplete ValueTask.
/// </summary>
/// <remarks>
/// Thread-static on purpose: the scope covers the synchronous part of one call. Code that
/// continues after an await runs elsewhere, outside the scope, and may block as usual.
/// </remarks>
public static class NoWait
{
    [ThreadStatic] private static int t_depth;

    /// <summary>True when the calling thread must not block on the medium.</summary>
    public static bool IsActive => t_depth > 0;

    public static Scope Enter()
    {
        t_depth++;
        return default;
    }

    public readonly struct Scope : IDisposable
    {
        public void Dispose() => t_depth--;
    }
}
