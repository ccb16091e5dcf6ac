using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Connections;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Targets;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;
using Tandem.Storage.Threading;

namespace Tandem.Iscsi.Sessions;

/// <summary>Outcome of checking a command's CmdSN against the window (RFC 7143 §4.2.2.1).</summary>
internal enum CmdSnVerdict
{
    /// <summary>Outside [ExpCmdSN, MaxCmdSN]: silently ignored, as RFC 7143 §4.2.2.1 requires.</summary>
    Drop,
    /// <summary>Immediate delivery: not ordered, not counted in the window.</summary>
    Immediate,
    /// <summary>In the window: ExpCmdSN advanced, the command holds a window slot until its response is queued.</summary>
    Sequenced,
}

/// <summary>
/// An iSCSI session (one I_T nexus): the CmdSN window, the task set with SAM task attributes, the task
/// slot pool, and the nexus events sent to the SCSI target. Discovery sessions use the same object
/// without a SCSI target. One connection per session (MaxConnections=1, ErrorRecoveryLevel=0).
/// </summary>
/// <remarks>
/// Commands are admitted to the task set in CmdSN order but run concurrently: SIMPLE tasks start as soon
/// as their data is in, an ORDERED task waits for every earlier task and holds back later ones,
/// HEAD OF QUEUE and immediate tasks start at once. Because one TCP connection delivers PDUs in order,
/// a CmdSN ahead of ExpCmdSN (inside the window) can only follow a command the initiator has already
/// given up on, so it is taken in order and ExpCmdSN moves past the gap.
/// </remarks>
internal sealed class IscsiSession : ICommandWindowSource
{
    /// <summary>Implementation limit: idle task slots kept for reuse.</summary>
    private const int SlotPoolLimit = IscsiLimits.CommandWindow + IscsiLimits.MaxImmediateCommands;

    /// <summary>Implementation limit: tasks a session may hold (window plus immediate commands).</summary>
    public const int MaxTasks = IscsiLimits.CommandWindow + IscsiLimits.MaxImmediateCommands;

    private readonly Lock _sync = new();
    private readonly Stack<ScsiTask> _slots = new();
    private readonly Dictionary<uint, ScsiTask> _tasks = [];
    private readonly Queue<ScsiTask> _blocked = new();
    private readonly RecentTags _endedEarly = new(64);
    private readonly ILogger _logger;
    private int _inFlight;
    private int _orderedInFlight;
    private uint _expCmdSN;
    private int _outstanding;
    private long _window;
    private long _bufferedBytes;
    private uint _nextTargetTransferTag;
    private bool _closed;
    private Task? _termination;

    public IscsiSession(
        ushort tsih,
        string initiatorName,
        ulong isid,
        IscsiTargetDefinition? target,
        ITNexus? nexus,
        SessionParameters parameters,
        uint initialCmdSN,
        ILogger logger)
    {
        Tsih = tsih;
        InitiatorName = initiatorName;
        Isid = isid;
        Target = target;
        Nexus = nexus;
        Parameters = parameters;
        _logger = logger;
        _expCmdSN = initialCmdSN;
        _nextTargetTransferTag = (uint)Random.Shared.Next();
        PublishWindow();
    }

    public ushort Tsih { get; }
    public string InitiatorName { get; }
    public ulong Isid { get; }
    public IscsiTargetDefinition? Target { get; }
    public ITNexus? Nexus { get; }
    public bool IsDiscovery => Target is null;
    public IScsiTarget ScsiTarget => Target!.Scsi;
    public SessionParameters Parameters { get; }
    public DateTimeOffset LoggedInAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>The session's connection; replaced on connection reinstatement.</summary>
    public IscsiConnection? Connection { get; set; }

    /// <summary>Set by the server: removes the session from its registry when it ends.</summary>
    public Action<IscsiSession>? Ended { get; set; }

    public bool IsClosed { get { lock (_sync) return _closed; } }

    // ---- CmdSN window -------------------------------------------------------------------------

    public CmdSnVerdict CheckCmdSN(uint cmdSN, bool immediate)
    {
        lock (_sync)
        {
            if (_closed)
                return CmdSnVerdict.Drop;
            if (immediate)
                return CmdSnVerdict.Immediate;
            int distance = PduMath.SerialDistance(cmdSN, _expCmdSN);
            if (distance < 0 || distance >= IscsiLimits.CommandWindow - _outstanding)
                return CmdSnVerdict.Drop;
            if (distance > 0)
                _logger.LogDebug("CmdSN {CmdSN} skips ahead of ExpCmdSN {Exp}", cmdSN, _expCmdSN);
            _expCmdSN = cmdSN + 1;
            _outstanding++;
            PublishWindow();
            return CmdSnVerdict.Sequenced;
        }
    }

    /// <summary>A sequenced request got its response (or ended without one): its window slot is free.</summary>
    public void ReleaseWindowSlot()
    {
        lock (_sync)
            ReleaseWindowSlotLocked();
    }

    private void ReleaseWindowSlotLocked()
    {
        if (_outstanding > 0)
            _outstanding--;
        PublishWindow();
    }

    /// <summary>Restarts the window at a new connection's login CmdSN (connection reinstatement).</summary>
    public void ResetCommandWindow(uint cmdSN)
    {
        lock (_sync)
        {
            _expCmdSN = cmdSN;
            PublishWindow();
        }
    }

    private void PublishWindow()
    {
        uint max = _expCmdSN + (uint)(IscsiLimits.CommandWindow - _outstanding) - 1;
        Volatile.Write(ref _window, ((long)_expCmdSN << 32) | max);
    }

    public void ReadCommandWindow(out uint expCmdSN, out uint maxCmdSN)
    {
        long window = Volatile.Read(ref _window);
        expCmdSN = (uint)(window >> 32);
        maxCmdSN = (uint)window;
    }

    public uint NextTargetTransferTag()
    {
        uint tag = Interlocked.Increment(ref _nextTargetTransferTag);
        return tag == IscsiLimits.ReservedTag ? Interlocked.Increment(ref _nextTargetTransferTag) : tag;
    }

    // ---- task slots and buffers ---------------------------------------------------------------

    public ScsiTask RentSlot()
    {
        ScsiTask? task;
        lock (_sync)
            _slots.TryPop(out task);
        task ??= new ScsiTask(this);
        task.Begin();
        return task;
    }

    public void ReturnSlot(ScsiTask task)
    {
        long bytes = task.BufferedBytes;
        if (bytes > 0)
            Interlocked.Add(ref _bufferedBytes, -bytes);
        lock (_sync)
        {
            if (_slots.Count < SlotPoolLimit)
                _slots.Push(task);
        }
    }

    /// <summary>Reserves buffer memory against the per-connection budget.</summary>
    public bool TryReserveBuffer(long bytes)
    {
        long after = Interlocked.Add(ref _bufferedBytes, bytes);
        if (after <= IscsiLimits.MaxBufferedBytesPerConnection)
            return true;
        Interlocked.Add(ref _bufferedBytes, -bytes);
        return false;
    }

    // ---- task set -----------------------------------------------------------------------------

    /// <summary>Adds a new task. False when its tag is already in use or the task set is full.</summary>
    public bool TryRegister(ScsiTask task, out bool duplicateTag)
    {
        lock (_sync)
        {
            duplicateTag = _tasks.ContainsKey(task.InitiatorTaskTag);
            if (_closed || duplicateTag || _tasks.Count >= MaxTasks)
                return false;
            _tasks.Add(task.InitiatorTaskTag, task);
            if (!task.FailedByTransport)
                AdmitLocked(task);
            return true;
        }
    }

    /// <summary>The task a Data-Out with this tag belongs to, with a reference the caller must release.</summary>
    public ScsiTask? AcquireForDataOut(uint initiatorTaskTag, out bool endedEarly)
    {
        lock (_sync)
        {
            endedEarly = _endedEarly.Contains(initiatorTaskTag);
            if (_tasks.TryGetValue(initiatorTaskTag, out ScsiTask? task) && !task.Aborted && !task.DataComplete)
            {
                task.AddReference();
                return task;
            }
            return null;
        }
    }

    /// <summary>Runs <paramref name="update"/> on task state under the session lock.</summary>
    public T WithLock<T>(Func<T> update)
    {
        lock (_sync)
            return update();
    }

    /// <summary>
    /// All Data-Out is in: the task may start once admitted. Called on the connection's receive
    /// loop, which runs a READ or WRITE that may start at once itself (<see cref="ScsiTask.RunInline"/>);
    /// link flushes the command puts off go to <paramref name="deferred"/>.
    /// </summary>
    public void MarkDataComplete(ScsiTask task, DeferredFlushes deferred)
    {
        bool runHere;
        lock (_sync)
        {
            if (task.Aborted)
                return;
            task.DataComplete = true;
            runHere = TryStartLocked(task, callerMayRun: task.RunsInline);
        }
        if (runHere)
            task.RunInline(deferred);
    }

    /// <summary>
    /// The transport failed the task before execution (status and sense are set). The response is
    /// queued now; Data-Out still arriving for it is discarded.
    /// </summary>
    public void CompleteWithoutExecution(ScsiTask task)
    {
        bool respond;
        lock (_sync)
        {
            respond = !task.Aborted && !task.ResponseQueued;
            if (respond)
            {
                task.ResponseQueued = true;
                task.Finished = true;
                _tasks.Remove(task.InitiatorTaskTag);
                if (task.WriteFlag && task.NeedsMoreData)
                    _endedEarly.Add(task.InitiatorTaskTag);
                RetireLocked(task);
                if (task.CountsInWindow)
                    ReleaseWindowSlotLocked();
            }
        }
        if (respond)
            QueueResponse(task);
    }

    private void AdmitLocked(ScsiTask task)
    {
        bool bypass = task.Immediate || task.Attribute == TaskAttribute.HeadOfQueue;
        if (!bypass && (_blocked.Count > 0 || _orderedInFlight > 0 || (task.Attribute == TaskAttribute.Ordered && _inFlight > 0)))
        {
            _blocked.Enqueue(task);
            return;
        }
        task.Admitted = true;
        _inFlight++;
        if (task.Attribute == TaskAttribute.Ordered && !bypass)
            _orderedInFlight++;
        TryStartLocked(task);
    }

    private void RetireLocked(ScsiTask task)
    {
        if (task.Admitted)
        {
            task.Admitted = false;
            _inFlight--;
            if (task.Attribute == TaskAttribute.Ordered && !task.Immediate)
                _orderedInFlight--;
        }
        while (_blocked.TryPeek(out ScsiTask? head))
        {
            if (head.Aborted || head.Finished)
            {
                _blocked.Dequeue();
                continue;
            }
            bool mayStart = head.Attribute == TaskAttribute.Ordered ? _inFlight == 0 : _orderedInFlight == 0;
            if (!mayStart)
                break;
            _blocked.Dequeue();
            head.Admitted = true;
            _inFlight++;
            if (head.Attribute == TaskAttribute.Ordered)
                _orderedInFlight++;
            TryStartLocked(head);
        }
    }

    /// <summary>
    /// Starts the task if it may start. Returns true when the caller is to run it (only when
    /// <paramref name="callerMayRun"/>); otherwise it is queued to a worker.
    /// </summary>
    private bool TryStartLocked(ScsiTask task, bool callerMayRun = false)
    {
        if (!task.Admitted || !task.DataComplete || task.Started || task.Aborted || task.FailedByTransport)
            return false;
        task.Started = true;
        task.AddReference(); // held by the execution
        if (callerMayRun)
            return true;
        // From a worker (a finishing task admitting the next), its local queue: that worker
        // picks the task up itself when done, and idle workers steal from it. From a
        // connection's receive thread, which is not a pool thread, this is the global queue.
        ThreadPool.UnsafeQueueUserWorkItem(task, preferLocal: true);
        return false;
    }

    /// <summary>The SCSI layer finished the task (called on the executing thread).</summary>
    public void OnExecuted(ScsiTask task)
    {
        bool respond;
        TaskCompletionSource? ended;
        lock (_sync)
        {
            task.Finished = true;
            RetireLocked(task);
            ended = task.ExecutionEnded;
            respond = !task.Aborted && !_closed;
            if (respond)
            {
                task.ResponseQueued = true;
                _tasks.Remove(task.InitiatorTaskTag);
                if (task.CountsInWindow)
                    ReleaseWindowSlotLocked();
            }
        }
        if (respond)
            QueueResponse(task); // hands over the lifecycle reference
        else
            task.Release(); // lifecycle reference of an aborted task
        ended?.TrySetResult();
        task.Release(); // execution reference
    }

    public void OnExecutionFault(ScsiTask task, Exception ex)
    {
        if (task.Aborted && ex is OperationCanceledException)
            return;
        _logger.LogWarning(ex, "SCSI target failed on CDB {Opcode:x2} (ITT {Itt:x8})", task.Command.Cdb.Length > 0 ? task.Command.Cdb[0] : 0, task.InitiatorTaskTag);
        SenseData.SetCheckCondition(task.Command, SenseCodes.InternalTargetFailure);
        task.Command.TransferLength = 0;
    }

    private void QueueResponse(ScsiTask task)
    {
        IscsiConnection? connection = Connection;
        if (connection is null || !connection.Sender.Enqueue(task))
            task.Release();
    }

    // ---- aborts -------------------------------------------------------------------------------

    /// <summary>
    /// Aborts matching tasks without a response (RFC 7143 §4.2.3.3, TAS=0 semantics). Returns a task that
    /// completes when every aborted task that was running has returned from the SCSI layer.
    /// </summary>
    public Task AbortTasks(Func<ScsiTask, bool> match, out int count)
    {
        var running = new List<Task>();
        var release = new List<ScsiTask>();
        var signal = new List<ScsiTask>();
        lock (_sync)
        {
            foreach (ScsiTask task in _tasks.Values.ToList())
            {
                if (!match(task) || task.ResponseQueued || task.Finished || task.Aborted)
                    continue;
                task.Aborted = true;
                _tasks.Remove(task.InitiatorTaskTag);
                _endedEarly.Add(task.InitiatorTaskTag);
                if (task.CountsInWindow)
                    ReleaseWindowSlotLocked();
                if (task.Started)
                {
                    task.ExecutionEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    running.Add(task.ExecutionEnded.Task);
                    signal.Add(task);
                }
                else
                {
                    task.Finished = true;
                    RetireLocked(task);
                    release.Add(task);
                }
            }
        }
        foreach (ScsiTask task in signal)
            task.SignalAbort();
        foreach (ScsiTask task in release)
            task.Release();
        count = running.Count + release.Count;
        return running.Count == 0 ? Task.CompletedTask : Task.WhenAll(running);
    }

    // ---- end of session -----------------------------------------------------------------------

    /// <summary>
    /// Ends the session: aborts every task, waits (bounded) for running ones, tells the SCSI target the
    /// nexus is gone, and leaves the registry. Idempotent.
    /// </summary>
    public Task TerminateAsync()
    {
        lock (_sync)
        {
            if (_termination is not null)
                return _termination;
            _termination = TerminateCoreAsync();
            return _termination;
        }
    }

    private async Task TerminateCoreAsync()
    {
        await Task.Yield();
        Task running = AbortTasks(_ => true, out _);
        lock (_sync)
            _closed = true;
        try
        {
            await running.WaitAsync(IscsiLimits.TaskDrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("session {Tsih}: SCSI commands still running {Seconds}s after the session ended", Tsih, IscsiLimits.TaskDrainTimeout.TotalSeconds);
        }
        if (Nexus is not null && Target is not null)
        {
            try { Target.Scsi.NexusLost(Nexus); }
            catch (Exception ex) { _logger.LogWarning(ex, "NexusLost failed for {Nexus}", Nexus.InitiatorPortName); }
        }
        if (Nexus is not null && Target is not null)
            _logger.LogInformation("session {Tsih}: {Initiator} left {Target}", Tsih, Nexus.InitiatorPortName, Target.Name);
        Ended?.Invoke(this);
    }
}
