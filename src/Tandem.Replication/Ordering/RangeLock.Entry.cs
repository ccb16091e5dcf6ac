using System.Threading.Tasks.Sources;

namespace Tandem.Replication.Ordering;

public sealed partial class RangeLock
{
    internal enum EntryState : byte { Free, Waiting, Held, Cancelled }

    /// <summary>
    /// One request in the queue, held or waiting, and the awaitable of a waiter. Pooled: a waiter's
    /// ValueTask is backed by its entry, and a holder is recognised by the entry's generation.
    /// Fields are guarded by the lock except where noted.
    /// </summary>
    internal sealed class Entry : IValueTaskSource<Holder>
    {
        public readonly RangeLock Owner;
        public Entry? Prev;
        public Entry? Next;             // queue link, or pool link while free
        public Entry? NextGranted;      // chain of waiters granted under one lock, completed after it
        public long Start;
        public long End;
        public long Generation;
        public EntryState State;
        public CancellationToken Token;
        public CancellationTokenRegistration Registration;
        public ManualResetValueTaskSourceCore<Holder> Core;   // mutable struct: never copy

        public Entry(RangeLock owner)
        {
            Owner = owner;
            Core.RunContinuationsAsynchronously = true;
        }

        public Holder GetResult(short token)
        {
            // Read before GetResult: once a granted holder is handed out, a release may recycle the
            // entry concurrently. A cancelled entry is ours alone until we return it.
            bool cancelled = State == EntryState.Cancelled;
            try
            {
                return Core.GetResult(token);
            }
            finally
            {
                if (cancelled)
                    Owner.ReturnCancelled(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => Core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            Core.OnCompleted(continuation, state, token, flags);
    }
}
