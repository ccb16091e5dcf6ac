namespace Tandem.Scsi.LogicalUnits;

/// <summary>
/// Makes COMPARE AND WRITE atomic with respect to every other write of the logical unit
/// (SBC-3 §5.2). Ordinary writes enter shared: two interlocked operations, no allocation, no
/// lock. A COMPARE AND WRITE enters exclusive: it waits until writes in flight have drained,
/// holds new writes back while it compares and writes, then lets them go. COMPARE AND WRITE is
/// rare and small (VMware ATS heartbeats), so briefly pausing all writes costs little and keeps
/// the write path free of range bookkeeping.
/// </summary>
public sealed class WriteGate
{
    private const int ExclusiveBit = 1 << 30;

    private readonly SemaphoreSlim _exclusiveTurn = new(1, 1);
    private int _state; // count of shared holders | ExclusiveBit
    private volatile TaskCompletionSource _exclusiveReleased = Completed();
    private volatile TaskCompletionSource _drained = Completed();

    /// <summary>Enters shared (an ordinary write). Completes synchronously unless an exclusive holder is active.</summary>
    public ValueTask EnterSharedAsync(CancellationToken cancellationToken)
    {
        int s = Volatile.Read(ref _state);
        if ((s & ExclusiveBit) == 0 && Interlocked.CompareExchange(ref _state, s + 1, s) == s)
            return ValueTask.CompletedTask;
        return EnterSharedSlowAsync(cancellationToken);
    }

    private async ValueTask EnterSharedSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            if ((s & ExclusiveBit) == 0)
            {
                if (Interlocked.CompareExchange(ref _state, s + 1, s) == s)
                    return;
                continue;
            }
            await _exclusiveReleased.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void ExitShared()
    {
        int s = Interlocked.Decrement(ref _state);
        if (s == ExclusiveBit)
            _drained.TrySetResult();
    }

    /// <summary>Enters exclusive (COMPARE AND WRITE): waits for writes in flight to finish.</summary>
    public async ValueTask EnterExclusiveAsync(CancellationToken cancellationToken)
    {
        await _exclusiveTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        _exclusiveReleased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _drained = drained;
        int before = Interlocked.Or(ref _state, ExclusiveBit);
        if ((before & ~ExclusiveBit) != 0)
        {
            try
            {
                await drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                ExitExclusive();
                throw;
            }
        }
    }

    public void ExitExclusive()
    {
        Interlocked.And(ref _state, ~ExclusiveBit);
        _exclusiveReleased.TrySetResult();
        _exclusiveTurn.Release();
    }

    private static TaskCompletionSource Completed()
    {
        var tcs = new TaskCompletionSource();
        tcs.SetResult();
        return tcs;
    }
}
