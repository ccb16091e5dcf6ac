using System.Threading.Tasks.Sources;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// Holds a connection's send loop while its receive loop works through the PDUs of one receive,
/// so that the responses of commands the receive loop completes on the way leave together in
/// one send when it has used up what it received, instead of one send each.
/// </summary>
/// <remarks>
/// The receive loop engages the hold when it starts on a SCSI command and releases it before it
/// waits for anything (the socket, a logout's response, a session being torn down): the send loop
/// is never held while the receive loop waits, so nothing it waits for can be stuck behind the
/// hold. Releasing resumes a parked send loop inline, on the receive loop's thread, which then
/// makes the send itself. Reusable and allocation-free; one parked send loop at a time.
/// </remarks>
internal sealed class SendHold : IValueTaskSource
{
    private const int Free = 0;
    private const int Held = 1;
    private const int HeldWithLoopParked = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private int _state;

    /// <summary>Receive loop: hold sends from now on.</summary>
    public void Engage()
    {
        if (Volatile.Read(ref _state) == Free)
            Interlocked.CompareExchange(ref _state, Held, Free);
    }

    /// <summary>Receive loop: let sends go; a parked send loop resumes here, on this thread.</summary>
    public void Release()
    {
        if (Volatile.Read(ref _state) == Free)
            return;
        if (Interlocked.Exchange(ref _state, Free) == HeldWithLoopParked)
            _core.SetResult(true);
    }

    /// <summary>Send loop: true when it must await <see cref="WaitAsync"/> before sending.</summary>
    public bool TryPark()
    {
        if (Volatile.Read(ref _state) != Held)
            return false;
        _core.Reset();
        return Interlocked.CompareExchange(ref _state, HeldWithLoopParked, Held) == Held;
    }

    public ValueTask WaitAsync() => new(this, _core.Version);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
