using System.Buffers;
using System.Runtime.CompilerServices;
using Tandem.Iscsi.Sessions;
using Tandem.Scsi.Commands;
using Tandem.Scsi.Transport;
using Tandem.Storage.Threading;

namespace Tandem.Iscsi.Commands;

/// <summary>One outstanding R2T of a write (RFC 7143 §11.8): the burst it asked for and how much has arrived.</summary>
internal struct R2TState
{
    public uint TargetTransferTag;
    public int Offset;
    public int Length;
    public int Received;
    public uint NextDataSN;
}

/// <summary>
/// A task slot: one SCSI command from arrival to the last byte of its response, with its pooled data
/// buffer and the reusable <see cref="ScsiCommand"/>. Slots are pooled per session, so the I/O path
/// allocates nothing. State changes happen under the session lock; the buffer is returned to the pool
/// only when every holder (lifecycle, data receive, execution, send) has released its reference.
/// </summary>
internal sealed class ScsiTask : IThreadPoolWorkItem
{
    private readonly IscsiSession _session;
    private readonly Action _onExecutionCompleted;
    private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _executionAwaiter;
    private CancellationTokenSource _abort = new();
    private int _references;

    public ScsiTask(IscsiSession session)
    {
        _session = session;
        _onExecutionCompleted = OnExecutionCompleted;
    }

    public ScsiCommand Command { get; } = new();

    // Identity of the current command.
    public uint InitiatorTaskTag;
    public uint CmdSN;
    public bool Immediate;
    public ulong LunField; // the 8-byte LUN as sent, echoed in Data-In/R2T
    public ulong Lun;
    public TaskAttribute Attribute;
    public bool ReadFlag;
    public bool WriteFlag;

    // Data buffer: [0, WriteLength) holds Data-Out, [WriteLength, WriteLength+ReadLength) receives Data-In.
    public byte[]? Buffer;
    public int WriteLength;
    public int ReadLength;

    // Data-Out progress (RFC 7143 §10.7, §11.7).
    public int ImmediateLength;
    public bool UnsolicitedPhase;
    public int UnsolicitedLimit;
    public uint NextUnsolicitedDataSN;
    public int NextR2TOffset;
    public uint NextR2TSN;
    public int R2TCount;
    public readonly R2TState[] R2Ts = new R2TState[IscsiLimits.TargetMaxOutstandingR2T];
    public int OutstandingR2Ts;
    public int BytesReceived;

    // Lifecycle.
    public bool CountsInWindow;
    public bool Admitted;
    public bool DataComplete;
    public bool Started;
    public bool Finished;
    public bool Aborted;
    public bool ResponseQueued;
    public bool FailedByTransport;
    public TaskCompletionSource? ExecutionEnded;

    public CancellationToken AbortToken => _abort.Token;

    /// <summary>Bytes of the data buffer counted against the connection's budget.</summary>
    public int BufferedBytes => WriteLength + ReadLength;

    public Memory<byte> WriteBuffer => Buffer.AsMemory(0, WriteLength);
    public Memory<byte> ReadBuffer => Buffer.AsMemory(WriteLength, ReadLength);

    public bool NeedsMoreData => WriteFlag && (UnsolicitedPhase || OutstandingR2Ts > 0 || NextR2TOffset < WriteLength);

    /// <summary>Prepares the slot for a new command (reference count 1: the lifecycle).</summary>
    public void Begin()
    {
        Command.Reset();
        if (!_abort.TryReset())
        {
            _abort.Dispose();
            _abort = new CancellationTokenSource();
        }
        InitiatorTaskTag = 0; CmdSN = 0; Immediate = false; LunField = 0; Lun = 0; Attribute = TaskAttribute.Simple;
        ReadFlag = WriteFlag = false;
        Buffer = null; WriteLength = ReadLength = 0;
        ImmediateLength = 0; UnsolicitedPhase = false; UnsolicitedLimit = 0; NextUnsolicitedDataSN = 0;
        NextR2TOffset = 0; NextR2TSN = 0; R2TCount = 0; OutstandingR2Ts = 0; BytesReceived = 0;
        CountsInWindow = Admitted = DataComplete = Started = Finished = Aborted = ResponseQueued = FailedByTransport = false;
        ExecutionEnded = null;
        _references = 1;
    }

    public void RentBuffer(int writeLength, int readLength)
    {
        WriteLength = writeLength;
        ReadLength = readLength;
        int total = writeLength + readLength;
        Buffer = total == 0 ? [] : ArrayPool<byte>.Shared.Rent(total);
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    /// <summary>Drops one reference; the last one returns the buffer and the slot.</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left == 0)
        {
            byte[]? buffer = Buffer;
            Buffer = null;
            if (buffer is { Length: > 0 })
                ArrayPool<byte>.Shared.Return(buffer);
            _session.ReturnSlot(this);
        }
    }

    public void SignalAbort()
    {
        try { _abort.Cancel(); }
        catch (AggregateException) { } // a callback registered by the SCSI layer threw; the abort stands
    }

    /// <summary>
    /// READ and WRITE of up to <see cref="IscsiLimits.InlineTransferLimit"/>: the connection's
    /// receive loop runs these itself when they may start at once. A small page-cache or RAM
    /// transfer costs a few microseconds, less than waking a worker for it; what would wait for
    /// the disk continues on a worker (<see cref="NoWait"/>). Larger transfers go to workers,
    /// where copies of several commands run in parallel.
    /// </summary>
    public bool RunsInline =>
        Command.ExpectedTransferLength <= IscsiLimits.InlineTransferLimit && ReadWrite.IsReadOrWrite(Command.Cdb[0]);

    /// <summary>
    /// Runs the command on the calling thread, which must not wait for the disk; link flushes
    /// it would make go to <paramref name="deferred"/>, run when the receive loop's batch ends.
    /// </summary>
    public void RunInline(DeferredFlushes deferred)
    {
        using (NoWait.Enter(deferred))
            Execute();
    }

    /// <summary>Runs the command on a thread-pool thread (queued by the session once it may start).</summary>
    void IThreadPoolWorkItem.Execute() => Execute();

    private void Execute()
    {
        try
        {
            ValueTask pending = _session.ScsiTarget.ExecuteAsync(Command, _abort.Token);
            if (!pending.IsCompleted)
            {
                _executionAwaiter = pending.ConfigureAwait(false).GetAwaiter();
                _executionAwaiter.UnsafeOnCompleted(_onExecutionCompleted);
                return;
            }
            pending.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            _session.OnExecutionFault(this, ex);
        }
        _session.OnExecuted(this);
    }

    private void OnExecutionCompleted()
    {
        try
        {
            var awaiter = _executionAwaiter;
            _executionAwaiter = default;
            awaiter.GetResult();
        }
        catch (Exception ex)
        {
            _session.OnExecutionFault(this, ex);
        }
        _session.OnExecuted(this);
    }
}
