using System.Threading.Tasks.Sources;
using Tandem.Storage.Threading;

namespace Tandem.Storage;

/// <summary>
/// Writes marked <see cref="WriteFlags.MayDefer"/> (an HA device's local copy of a client write)
/// that an iSCSI receive loop runs itself (<see cref="NoWait"/>), put off to the end of its batch so
/// that adjacent ones reach the image in one pwritev: a sequential client's batch of
/// writes costs one system call instead of one each (on this project's 2-vCPU machine, a system
/// call's entry and exit cost more than its 4 KiB copy).
/// </summary>
/// <remarks>
/// <para>One run per thread, for one image at a time. A write that does not continue the run (other
/// image, other place, run full) writes the run's data out first, so writes reach the image in the
/// order they were made; a read of the image on this thread does too. Completions are delivered
/// only when the batch ends (<see cref="DeferredFlushes.Run"/>, outside the receive loop's command
/// handling), never in the middle of another command.</para>
/// <para>Until then the writes are not complete: nothing may rely on their data (SCSI orders only
/// completed commands), and their buffers stay owned by their commands.</para>
/// </remarks>
internal sealed class DeferredWriteRun : IDeferredFlush
{
    [ThreadStatic] private static DeferredWriteRun? t_run;

    private readonly AdjacentWrites _run = new();
    private readonly List<Completion> _unwritten = new(AdjacentWrites.MaxPieces);
    private List<Completion> _written = new(AdjacentWrites.MaxPieces);
    private List<Completion> _completing = new(AdjacentWrites.MaxPieces);
    private ImageFileDevice? _device; // the image of the run; null while it is empty
    private bool _registered;

    /// <summary>
    /// Puts a plain write of <paramref name="device"/> off to the end of the calling receive loop's
    /// batch. False when no batch is open on this thread: the caller writes now.
    /// </summary>
    public static bool TryDefer(ImageFileDevice device, long lba, ReadOnlyMemory<byte> data, out ValueTask written)
    {
        written = default;
        if (!NoWait.CanDefer)
            return false;
        DeferredWriteRun run = t_run ??= new DeferredWriteRun();
        if (!run._registered)
        {
            NoWait.TryDefer(run);
            run._registered = true;
        }
        if (run._device is not null && (run._device != device || !run._run.CanTake(lba, data.Length)))
            run.WriteOut();
        run._device = device;
        run._run.Add(lba, data.Length / device.BlockSize, data);
        var completion = Completion.Rent();
        run._unwritten.Add(completion);
        written = completion.Task;
        return true;
    }

    /// <summary>Before this thread reads <paramref name="device"/>: the writes it put off reach the image first.</summary>
    public static void WriteOutFor(ImageFileDevice device)
    {
        if (t_run is { } run && run._device == device)
            run.WriteOut();
    }

    /// <summary>The receive loop's batch ends: write what is left, then complete every write of the batch.</summary>
    void IDeferredFlush.Flush()
    {
        _registered = false;
        WriteOut();
        // Continuations run inline and may put new writes off (on a later batch): swap first.
        (_written, _completing) = (_completing, _written);
        foreach (Completion completion in _completing)
            completion.Complete();
        _completing.Clear();
    }

    /// <summary>Writes the run's data with one pwritev; its writes complete (or fail) when the batch ends.</summary>
    private void WriteOut()
    {
        if (_device is not { } device)
            return;
        Exception? failure = null;
        try
        {
            device.WriteGatheredNow(_run.Lba, _run.Pieces);
        }
        catch (Exception e)
        {
            failure = e;
        }
        foreach (Completion completion in _unwritten)
        {
            completion.Failure = failure;
            _written.Add(completion);
        }
        _unwritten.Clear();
        _run.Clear();
        _device = null;
    }

    /// <summary>A deferred write's completion: pooled, so a deferred write allocates nothing.</summary>
    private sealed class Completion : IValueTaskSource
    {
        // A locked stack, not a ConcurrentQueue: the queue allocates new segments as it cycles.
        private const int PoolLimit = 1024;
        private static readonly Stack<Completion> Pool = new(PoolLimit);
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };

        public Exception? Failure { get; set; }

        public ValueTask Task => new(this, _core.Version);

        public static Completion Rent()
        {
            lock (Pool)
            {
                if (Pool.TryPop(out var completion))
                    return completion;
            }
            return new Completion();
        }

        public void Complete()
        {
            if (Failure is { } failure)
                _core.SetException(failure);
            else
                _core.SetResult(true);
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                Failure = null;
                lock (Pool)
                {
                    if (Pool.Count < PoolLimit)
                        Pool.Push(this);
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
