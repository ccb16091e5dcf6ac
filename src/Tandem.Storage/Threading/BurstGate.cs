using System.Threading.Tasks.Sources;

namespace Tandem.Storage.Threading;

/// <summary>
/// Where one consumer loop (a connection's send loop) parks during a <see cref="CompletionBurst"/>.
/// Reusable and allocation-free; one wait at a time.
/// </summary>
public sealed class BurstGate : IValueTaskSource
{
    // Continuations run inline: the loop resumes on the thread that ends the burst.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };

    /// <summary>
    /// Parks in the burst open on the calling thread, if any. True means: await <see cref="WaitAsync"/>,
    /// which completes when the burst ends.
    /// </summary>
    public bool TryPark()
    {
        if (!CompletionBurst.IsOpen)
            return false;
        _core.Reset();
        return CompletionBurst.TryPark(this);
    }

    public ValueTask WaitAsync() => new(this, _core.Version);

    internal void Release() => _core.SetResult(true);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
