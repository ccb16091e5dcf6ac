namespace Tandem.Replication.Sync;

/// <summary>
/// Flushes a resync target's storage in the background while resync data arrives, so that the
/// flush the target owes before it calls itself synchronized finds little left to write.
/// </summary>
/// <remarks>
/// Resync data lands in the page cache far faster than the disk takes it. Left alone, the kernel
/// starts writing it back only when the dirty limit is near, and the final flush then pays for
/// the whole copy a second time, after the network is done (about half of a 2 GiB resync on the
/// bench machine). A flush started every <see cref="BytesPerFlush"/> bytes overlaps the disk with
/// the network instead. One flush runs at a time: if the disk falls behind, the next flush simply
/// covers more. Durability is unchanged: nothing is claimed until the final flush completes.
/// </remarks>
internal sealed class FlushBehind(Func<ValueTask> flush, Action<Task> track)
{
    /// <summary>Resync bytes applied between two background flushes.</summary>
    public const long BytesPerFlush = 128L << 20;

    private readonly Lock _gate = new();
    private long _unflushed;
    private Task _running = Task.CompletedTask;
    private volatile Exception? _failure;

    /// <summary>The first background flush failure, if any (a failed flush means lost writes).</summary>
    public Exception? Failure => _failure;

    /// <summary>Counts applied resync bytes; starts a background flush when enough have gathered and none runs.</summary>
    public void Applied(long bytes)
    {
        if (Interlocked.Add(ref _unflushed, bytes) < BytesPerFlush)
            return;
        lock (_gate)
        {
            if (!_running.IsCompleted || Interlocked.Read(ref _unflushed) < BytesPerFlush)
                return;
            Interlocked.Exchange(ref _unflushed, 0);
            _running = Task.Run(FlushAsync);
            track(_running);
        }
    }

    /// <summary>Waits for the background flush in progress; throws the first failure of any.</summary>
    public async Task DrainAsync()
    {
        Task running;
        lock (_gate)
            running = _running;
        await running.ConfigureAwait(false);
        if (_failure is { } failure)
            throw new IOException("A background flush of resync data failed.", failure);
    }

    private async Task FlushAsync()
    {
        try
        {
            await flush().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            _failure ??= e;
        }
    }
}
