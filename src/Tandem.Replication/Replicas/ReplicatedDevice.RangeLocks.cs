using Tandem.Replication.Links;
using Tandem.Replication.Ordering;
using Tandem.Replication.Wire;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>
/// Cluster-wide range locks for COMPARE AND WRITE: the range's origin lock on every serving node,
/// taken in replica-id order (this node's locally, a partner's with a Fence frame), so that two
/// nodes locking the same range at once cannot deadlock. While held, no write to the range is in
/// flight anywhere and none can start, so read-compare-write is atomic across every path.
/// </summary>
public sealed partial class ReplicatedDevice
{
    public async ValueTask<IAsyncDisposable> LockRangeAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        CheckRange(lba, blockCount);
        var partners = _peers.Where(p => p.ReceivesWrites && p.Link is { IsUp: true }).ToArray();
        var held = new ClusterRangeLock(lba, blockCount);
        try
        {
            foreach (int id in partners.Select(p => p.Id).Append(LocalId).Order())
            {
                if (id == LocalId)
                {
                    held.Local = await _originLock.AcquireAsync(lba, blockCount, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                var peer = PeerById(id);
                if (peer.Link is not { IsUp: true } link)
                    continue;
                var reply = await link.RequestAsync(FrameType.Fence, new RangeMessage(lba, blockCount)).ConfigureAwait(false);
                if (reply.IsOk)
                    held.Fenced.Add(link);
                else if (reply.Status != ReplyStatus.LinkDown)
                    throw new IOException($"Replica {peer.Id} could not lock blocks {lba}+{blockCount} ({reply.Status}).");
                // A partner whose link dropped is recorded as lost; its writes no longer count.
            }
            return held;
        }
        catch
        {
            await held.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public ValueTask WriteLockedAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags, CancellationToken cancellationToken = default)
    {
        EnsureServing();
        CheckRange(lba, data.Length / BlockSize);
        return ReplicateAsync(new Mutation(lba, data.Length / BlockSize, data, flags, Unmap: false), originHeld: true, cancellationToken);
    }

    private sealed class ClusterRangeLock(long lba, long blockCount) : IAsyncDisposable
    {
        public RangeLock.Holder Local;
        public readonly List<ReplicationLink> Fenced = [];
        private bool _released;

        public async ValueTask DisposeAsync()
        {
            if (_released)
                return;
            _released = true;
            for (int i = Fenced.Count - 1; i >= 0; i--)
                await Fenced[i].RequestAsync(FrameType.Unfence, new RangeMessage(lba, blockCount)).ConfigureAwait(false);
            Local.Dispose();
        }
    }
}
