using System.Threading.Tasks.Sources;
using Tandem.Storage.Threading;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// What a connection's receive loop puts off while it works through the PDUs of one receive:
/// its send loop (so the responses of the commands it completes on the way leave together, in
/// one send, instead of one send each) and the flushes of replication links its writes queued
/// frames on (so those writes reach a partner in one send too). Both run when the batch ends.
/// </summary>
/// <remarks>
/// The receive loop engages the batch when it starts on a SCSI command and ends it before it
/// waits for anything (the socket, a logout's response, a session being torn down): nothing is
/// put off while the receive loop waits, so nothing it waits for can be stuck behind the batch.
/// Ending resumes a parked send loop inline, on the receive loop's thread, which then makes the
/// send itself. Reusable and allocation-free; one parked send loop at a time.
/// </remarks>
internal sealed class ReceiveBatch : IValueTaskSource
{
    private const int Open = 0;
    private const int Engaged = 1;
    private const int EngagedWithSendsParked = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private int _state;

    /// <summary>Replication link flushes put off by commands the receive loop ran (<see cref="NoWait.TryDefer"/>).</summary>
    public DeferredFlushes Deferred { get; } = new();

    /// <summary>Receive loop: hold sends from now on.</summary>
    public void Engage()
    {
        if (Volatile.Read(ref _state) == Open)
            Interlocked.CompareExchange(ref _state, Engaged, Open);
    }

    /// <summary>
    /// Receive loop: the batch is worked through. Deferred link flushes go first (the partners
    /// start on their writes), then a parked send loop resumes here, on this thread.
    /// </summary>
    public void End()
    {
        Deferred.Run();
        if (Volatile.Read(ref _state) == Open)
            return;
        if (Interlocked.Exchange(ref _state, Open) == EngagedWithSendsParked)
            _core.SetResult(true);
    }

    /// <summary>Send loop: true when it must await <see cref="WaitAsync"/> before sending.</summary>
    public bool TryParkSends()
    {
        if (Volatile.Read(ref _state) != Engaged)
            return false;
        _core.Reset();
        return Interlocked.CompareExchange(ref _state, EngagedWithSendsParked, Engaged) == Engaged;
    }

    public ValueTask WaitAsync() => new(this, _core.Version);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
