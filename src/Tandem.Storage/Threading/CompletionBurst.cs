namespace Tandem.Storage.Threading;

/// <summary>
/// A stretch of code on one thread that completes many commands back to back: a replication
/// link's receive loop finishing every write a partner acknowledged in one read. Work that would
/// run once per completion on this thread (an iSCSI connection sending each response on its own)
/// parks on a <see cref="BurstGate"/> instead and runs once when the burst ends, so a burst's
/// responses leave in one send per connection.
/// </summary>
/// <remarks>
/// Thread-static on purpose: a burst is synchronous code on one dedicated thread. Anything that
/// continues elsewhere does not see it and runs as usual.
/// </remarks>
public static class CompletionBurst
{
    [ThreadStatic] private static int t_depth;
    [ThreadStatic] private static List<BurstGate>? t_parked;

    /// <summary>True while a burst is open on the calling thread.</summary>
    public static bool IsOpen => t_depth > 0;

    public static void Begin() => t_depth++;

    /// <summary>Closes the burst and releases everything parked in it (on this thread).</summary>
    public static void End()
    {
        if (t_depth == 0)
            throw new InvalidOperationException("No completion burst is open on this thread.");
        if (--t_depth == 0)
            ReleaseParked();
    }

    /// <summary>Releases what is parked without closing the burst (before this thread blocks on something).</summary>
    public static void Flush()
    {
        int depth = t_depth;
        t_depth = 0; // what the release runs is not part of the burst
        try
        {
            ReleaseParked();
        }
        finally
        {
            t_depth = depth;
        }
    }

    internal static bool TryPark(BurstGate gate)
    {
        if (t_depth == 0)
            return false;
        (t_parked ??= []).Add(gate);
        return true;
    }

    private static void ReleaseParked()
    {
        var parked = t_parked;
        if (parked is null)
            return;
        // Each gate leaves the list before it is released: releasing resumes its loop inline, on
        // this thread, where no burst is open any more (so nothing parks again meanwhile).
        while (parked.Count > 0)
        {
            BurstGate gate = parked[^1];
            parked.RemoveAt(parked.Count - 1);
            gate.Release();
        }
    }
}
