using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Links;

/// <summary>What a peer answered to a request (or <see cref="ReplyStatus.LinkDown"/>).</summary>
public readonly record struct LinkReply(ReplyStatus Status, byte[]? Body = null)
{
    public bool IsOk => Status == ReplyStatus.Ok;
}

/// <summary>
/// A request waiting for its reply: a pooled, resettable value-task source, so the write path
/// allocates nothing per request. Completed by the link's receive loop (continuations run inline
/// there: the waiter only finishes a SCSI command) or with LinkDown when the link fails.
/// </summary>
public sealed class PendingReply : IValueTaskSource<LinkReply>
{
    private static readonly ConcurrentQueue<PendingReply> Pool = new();
    private ManualResetValueTaskSourceCore<LinkReply> _core;

    private PendingReply() { }

    internal static PendingReply Rent()
    {
        if (!Pool.TryDequeue(out var reply))
            reply = new PendingReply();
        return reply;
    }

    public ValueTask<LinkReply> Task => new(this, _core.Version);

    /// <summary>
    /// True for a request the peer answers as soon as its receive loop reads it (a write): while
    /// one is on the wire, a reply is on its way and the link's receive thread will wake.
    /// </summary>
    internal bool AnsweredPromptly { get; set; }

    internal void Complete(LinkReply reply) => _core.SetResult(reply);

    public LinkReply GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            AnsweredPromptly = false;
            if (Pool.Count < 1024)
                Pool.Enqueue(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
