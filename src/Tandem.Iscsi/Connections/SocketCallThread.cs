using System.Threading.Tasks.Sources;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// A thread of one connection that makes the blocking socket call (<c>call</c>) its asynchronous
/// caller must not make on the thread it is on: a thread-pool worker must not sit in poll(2), and
/// neither may the receive loop while the send loop waits for room. The caller's continuation then
/// runs here too, so a loop that once waited here goes on here, with no further hand-off, until it
/// waits for something else.
/// </summary>
/// <remarks>
/// One call at a time (each direction of a connection has one caller). The thread starts with the
/// first call, or with <see cref="Start"/>, and ends after <see cref="Stop"/>. A call posted after
/// that fails with <see cref="ObjectDisposedException"/>. Allocation-free per call.
/// </remarks>
internal sealed class SocketCallThread : IValueTaskSource<int>
{
    private readonly Func<int> _call;
    private readonly string _name;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _posted = new(0);
    private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = false };
    private Thread? _thread;
    private bool _pending;
    private bool _stopped;

    /// <param name="call">The blocking call; it reads its arguments from where the poster left them.</param>
    public SocketCallThread(string name, Func<int> call)
    {
        _name = name;
        _call = call;
    }

    /// <summary>True on this thread: the caller may make the call itself.</summary>
    public bool IsCurrent => ReferenceEquals(Thread.CurrentThread, _thread);

    /// <summary>Starts the thread with <paramref name="first"/> (a loop that makes its calls inline while it can).</summary>
    public void Start(Action first)
    {
        lock (_gate)
        {
            if (_thread is not null)
                throw new InvalidOperationException("already started");
            StartLocked(first);
        }
    }

    /// <summary>Makes the call on this thread; the result completes there, and so does the caller's continuation.</summary>
    public ValueTask<int> Post()
    {
        lock (_gate)
        {
            if (_stopped)
                return ValueTask.FromException<int>(new ObjectDisposedException(_name, "the connection is closed"));
            if (_thread is null)
                StartLocked(null);
            _core.Reset();
            _pending = true;
        }
        _posted.Release();
        return new ValueTask<int>(this, _core.Version);
    }

    /// <summary>Ends the thread once it is idle (a call in progress is ended by closing its socket).</summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (_stopped)
                return;
            _stopped = true;
        }
        _posted.Release();
    }

    private void StartLocked(Action? first)
    {
        _thread = new Thread(() => Run(first)) { IsBackground = true, Name = _name };
        _thread.Start();
    }

    private void Run(Action? first)
    {
        first?.Invoke();
        while (true)
        {
            _posted.Wait();
            lock (_gate)
            {
                if (!_pending)
                {
                    if (_stopped)
                        return;
                    continue;
                }
                _pending = false;
            }
            int result;
            try
            {
                result = _call();
            }
            catch (Exception ex)
            {
                _core.SetException(ex);
                continue;
            }
            _core.SetResult(result);
        }
    }

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
