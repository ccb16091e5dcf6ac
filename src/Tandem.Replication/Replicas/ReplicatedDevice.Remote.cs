using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Links;
using Tandem.Replication.Ordering;
using Tandem.Replication.Sync;
using Tandem.Replication.Wire;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>The receiving side: requests from partners, in link order.</summary>
public sealed partial class ReplicatedDevice
{
    /// <summary>Largest range one checksum request may cover (implementation limit: 1 GiB).</summary>
    private const long MaxChecksumBytes = 1L << 30;

    private readonly Dictionary<(int Peer, long Lba, long Count), RangeLock.Holder> _fences = new();

    long ILinkHandler.CurrentClock => _ordering.Clock;

    void ILinkHandler.ObservePeerClock(ReplicationLink link, long clock)
    {
        // A gathered write is not on the local copy yet: its stamp must not be forgotten before it is.
        if (link.ReceiveState is RemoteWriteGather { IsEmpty: false } gather)
            gather.PendingClock = clock;
        else
            _ordering.ObservePeerClock(link.PeerId, clock);
    }

    ValueTask ILinkHandler.EndBatchAsync(ReplicationLink link) =>
        link.ReceiveState is RemoteWriteGather { IsEmpty: false } gather ? WriteGatheredAsync(link, gather) : default;

    async ValueTask ILinkHandler.HandleRequestAsync(ReplicationLink link, FrameHeader header, ReadOnlyMemory<byte> payload)
    {
        ReplicaPeer peer = PeerById(link.PeerId);
        if (!link.IsUp || peer.Link != link)
            throw new IOException("Frame on a link that is already down; discarded."); // late frames of a lost partner
        var gather = (RemoteWriteGather)(link.ReceiveState ??= new RemoteWriteGather());
        if (header.Type != FrameType.Write)
            await WriteGatheredAsync(link, gather).ConfigureAwait(false); // whatever comes next sees the writes before it
        switch (header.Type)
        {
            case FrameType.Write:
                if (!WriteMessage.TryRead(payload, out var write) || !IsWholeBlocks(write.Data.Length) || !InRange(write.Lba, write.Data.Length / BlockSize))
                    throw BadRequest(link, header, "malformed or out-of-range write");
                MarkForAbsentPartners(peer, write.Lba, write.Data.Length / BlockSize);
                if (!write.ForceUnitAccess && write.Stamp.NodeId == peer.Id)
                {
                    await GatherRemoteWriteAsync(peer, link, gather, header.RequestId, write.Stamp, write.Lba, write.Data).ConfigureAwait(false);
                    return;
                }
                await WriteGatheredAsync(link, gather).ConfigureAwait(false);
                link.Reply(header.RequestId, await ApplyRemoteAsync(peer, write.Stamp, write.Lba, write.Data.Length / BlockSize, write.Data,
                    write.ForceUnitAccess ? WriteFlags.ForceUnitAccess : WriteFlags.None, unmap: false).ConfigureAwait(false));
                return;
            case FrameType.Unmap:
                if (!UnmapMessage.TryRead(payload.Span, out var unmap) || !InRange(unmap.Lba, unmap.BlockCount))
                    throw BadRequest(link, header, "malformed or out-of-range unmap");
                MarkForAbsentPartners(peer, unmap.Lba, unmap.BlockCount);
                link.Reply(header.RequestId, await ApplyRemoteAsync(peer, unmap.Stamp, unmap.Lba, unmap.BlockCount, default, WriteFlags.None, unmap: true).ConfigureAwait(false));
                return;
            case FrameType.SyncData:
                if (!SyncDataMessage.TryRead(payload, out var data) || !IsWholeBlocks(data.Data.Length) || !InRange(data.Lba, data.Data.Length / BlockSize))
                    throw BadRequest(link, header, "malformed or out-of-range sync data");
                link.Reply(header.RequestId, await ApplySyncDataAsync(data.Lba, data.Data).ConfigureAwait(false));
                return;
            case FrameType.SyncUnmap:
                if (!RangeMessage.TryRead(payload.Span, out var hole) || !InRange(hole.Lba, hole.BlockCount))
                    throw BadRequest(link, header, "malformed or out-of-range sync unmap");
                link.Reply(header.RequestId, await ApplySyncUnmapAsync(hole.Lba, hole.BlockCount).ConfigureAwait(false));
                return;
            case FrameType.Flush:
                RunAndReply(link, header.RequestId, async () =>
                {
                    await _local.FlushAsync().ConfigureAwait(false);
                    return default;
                });
                return;
            case FrameType.Fence:
                if (!RangeMessage.TryRead(payload.Span, out var fence) || !InRange(fence.Lba, fence.BlockCount))
                    throw BadRequest(link, header, "malformed fence");
                RunAndReply(link, header.RequestId, async () =>
                {
                    var holder = await _originLock.AcquireAsync(fence.Lba, fence.BlockCount, _stopping.Token).ConfigureAwait(false);
                    lock (_fences)
                        _fences[(peer.Id, fence.Lba, fence.BlockCount)] = holder;
                    return default;
                });
                return;
            case FrameType.Unfence:
                if (!RangeMessage.TryRead(payload.Span, out var unfence))
                    throw BadRequest(link, header, "malformed unfence");
                ReleaseFence(peer.Id, unfence.Lba, unfence.BlockCount);
                link.Reply(header.RequestId, ReplyStatus.Ok);
                return;
            case FrameType.Checksums:
                if (!RangeMessage.TryRead(payload.Span, out var range) || !InRange(range.Lba, range.BlockCount) || range.BlockCount * BlockSize > MaxChecksumBytes)
                    throw BadRequest(link, header, "malformed checksum request");
                RunAndReply(link, header.RequestId, async () => (byte[]?)await ChecksumsAsync(range.Lba, range.BlockCount).ConfigureAwait(false));
                return;
            case FrameType.Control:
                ControlMessage message = ControlMessage.Parse(payload.Span);
                await HandleControlAsync(peer, link, header.RequestId, message).ConfigureAwait(false);
                return;
            default:
                throw BadRequest(link, header, $"unexpected {header.Type} frame");
        }
    }

    /// <summary>
    /// A partner's plain write: planned under its apply lock now, written with the adjacent writes
    /// of the same receive batch in one gathered write (<see cref="RemoteWriteGather"/>), and answered
    /// once that is done. Never waits for a lock while holding the gathered ones.
    /// </summary>
    /// <summary>
    /// Three-way: a partner's write is marked for the other partner when that one may not have it:
    /// it does not receive our writes, or the writer told us (in order with its writes) that its
    /// writes do not reach it. Whichever survivor then resynchronizes a returning node copies every
    /// write it missed, not only its own (the other survivor's bitmap is cleared when they pair).
    /// Marking more than needed only copies an extent twice; marking less would lose writes.
    /// </summary>
    private void MarkForAbsentPartners(ReplicaPeer from, long lba, long blockCount)
    {
        if (_peers.Length < 2)
            return;
        foreach (var peer in _peers)
        {
            if (peer != from && (!peer.ReceivesWrites || from.SkipsNode[peer.Id]))
                peer.Bitmap.MarkBlocks(lba, blockCount);
        }
    }

    private async ValueTask GatherRemoteWriteAsync(ReplicaPeer from, ReplicationLink link, RemoteWriteGather gather, ulong requestId,
        Stamp stamp, long lba, ReadOnlyMemory<byte> data)
    {
        long blockCount = data.Length / BlockSize;
        if (!gather.Run.CanTake(lba, data.Length))
            await WriteGatheredAsync(link, gather).ConfigureAwait(false);
        ValueTask<RangeLock.Holder> locking = _applyLock.AcquireAsync(lba, blockCount);
        if (!locking.IsCompleted)
            await WriteGatheredAsync(link, gather).ConfigureAwait(false);
        RangeLock.Holder held = await locking.ConfigureAwait(false);
        List<BlockRun> runs = from.ApplyRuns;
        try
        {
            _ordering.PlanRemoteWrite(lba, blockCount, stamp, runs);
            from.RecentWrites.Record(stamp, lba, blockCount);
        }
        catch
        {
            held.Dispose();
            throw;
        }
        if (runs.Count == 1 && runs[0] == new BlockRun(lba, blockCount))
        {
            gather.Add(requestId, held, lba, blockCount, data);
            return;
        }
        // Newer writes overtook some of its blocks (or all): what is left is written now, alone.
        ReplyStatus status = ReplyStatus.Ok;
        using (held)
        {
            try
            {
                await WriteRunsAsync(runs, lba, data, WriteFlags.None, unmap: false).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                status = FailedRemoteWrite(from, e);
            }
        }
        if (status == ReplyStatus.Ok)
            MarkForPartnersWithoutWrites(from, lba, blockCount);
        link.Reply(requestId, status);
    }

    /// <summary>Writes out the gathered writes of a partner, answers them, releases their locks and observes the clock held back.</summary>
    private async ValueTask WriteGatheredAsync(ReplicationLink link, RemoteWriteGather gather)
    {
        if (gather.IsEmpty)
            return;
        ReplicaPeer from = PeerById(link.PeerId);
        try
        {
            ReplyStatus status = ReplyStatus.Ok;
            try
            {
                await _local.WriteGatheredAsync(gather.Run.Lba, gather.Run.Pieces).ConfigureAwait(false);
                MarkForPartnersWithoutWrites(from, gather.Run.Lba, gather.Run.End - gather.Run.Lba);
            }
            catch (IOException e)
            {
                status = FailedRemoteWrite(from, e);
            }
            for (int i = 0; i < gather.Count; i++)
                link.Reply(gather.RequestId(i), status);
        }
        finally
        {
            gather.Clear();
            if (gather.PendingClock >= 0)
            {
                _ordering.ObservePeerClock(link.PeerId, gather.PendingClock);
                gather.PendingClock = -1;
            }
        }
    }

    private ReplyStatus FailedRemoteWrite(ReplicaPeer from, IOException e)
    {
        _log.LogError(e, "Applying a write from replica {Peer} to {Device} failed", from.Id, _options.DeviceName);
        MarkLocalStale("a write from a partner failed on this node's storage");
        return ReplyStatus.IoError;
    }

    /// <summary>Partners that do not receive writes must learn about a partner's write from us later.</summary>
    private void MarkForPartnersWithoutWrites(ReplicaPeer from, long lba, long blockCount)
    {
        foreach (var peer in _peers)
        {
            if (peer != from && !peer.ReceivesWrites)
                peer.Bitmap.MarkBlocks(lba, blockCount);
        }
    }

    private async ValueTask WriteRunsAsync(List<BlockRun> runs, long lba, ReadOnlyMemory<byte> data, WriteFlags flags, bool unmap)
    {
        foreach (BlockRun run in runs)
        {
            if (unmap)
                await _local.UnmapAsync(run.Lba, run.BlockCount).ConfigureAwait(false);
            else
                await _local.WriteAsync(run.Lba, data.Slice((int)((run.Lba - lba) * BlockSize), (int)(run.BlockCount * BlockSize)), flags).ConfigureAwait(false);
        }
    }

    private async ValueTask<ReplyStatus> ApplyRemoteAsync(ReplicaPeer from, Stamp stamp, long lba, long blockCount, ReadOnlyMemory<byte> data,
        WriteFlags flags, bool unmap)
    {
        if (stamp.NodeId != from.Id)
            return ReplyStatus.BadRequest;
        try
        {
            using (await _applyLock.AcquireAsync(lba, blockCount).ConfigureAwait(false))
            {
                List<BlockRun> runs = from.ApplyRuns;
                _ordering.PlanRemoteWrite(lba, blockCount, stamp, runs);
                from.RecentWrites.Record(stamp, lba, blockCount);
                await WriteRunsAsync(runs, lba, data, flags, unmap).ConfigureAwait(false);
                if ((flags & WriteFlags.ForceUnitAccess) != 0 && runs.Count == 0)
                    await _local.FlushAsync().ConfigureAwait(false);
            }
            MarkForPartnersWithoutWrites(from, lba, blockCount);
            return ReplyStatus.Ok;
        }
        catch (IOException e)
        {
            return FailedRemoteWrite(from, e);
        }
    }

    private ValueTask<ReplyStatus> ApplySyncDataAsync(long lba, ReadOnlyMemory<byte> data) =>
        ApplySyncAsync(lba, data.Length / BlockSize, () => _local.WriteAsync(lba, data), data.Length, "Writing resync data");

    private ValueTask<ReplyStatus> ApplySyncUnmapAsync(long lba, long blockCount) =>
        ApplySyncAsync(lba, blockCount, () => _local.UnmapAsync(lba, blockCount), 0, "Deallocating for a resync");

    /// <summary>Resync data or holes from the sync source, applied under the apply lock.</summary>
    private async ValueTask<ReplyStatus> ApplySyncAsync(long lba, long blockCount, Func<ValueTask> apply, int dataBytes, string what)
    {
        if (LocalState == ReplicaState.Synchronized && _serving)
            return ReplyStatus.NotReady; // never let resync data overwrite a copy that serves
        FlushBehind? flushing = _syncFlush;
        if (flushing?.Failure is { } failed)
        {
            _log.LogError(failed, "{What} of {Device} stops: a background flush of the resync failed", what, _options.DeviceName);
            return ReplyStatus.IoError;
        }
        try
        {
            using (await _applyLock.AcquireAsync(lba, blockCount).ConfigureAwait(false))
                await apply().ConfigureAwait(false);
            flushing?.Applied(dataBytes);
            return ReplyStatus.Ok;
        }
        catch (IOException e)
        {
            _log.LogError(e, "{What} of {Device} failed", what, _options.DeviceName);
            return ReplyStatus.IoError;
        }
    }

    private async Task<byte[]> ChecksumsAsync(long lba, long blockCount)
    {
        int extentBlocks = ReplicaLimits.ExtentBytes / BlockSize;
        long extents = (blockCount + extentBlocks - 1) / extentBlocks;
        byte[] result = new byte[extents * 8];
        byte[] buffer = new byte[ReplicaLimits.ExtentBytes];
        for (long i = 0; i < extents; i++)
        {
            long start = lba + i * extentBlocks;
            int blocks = (int)Math.Min(extentBlocks, lba + blockCount - start);
            var slice = buffer.AsMemory(0, blocks * BlockSize);
            await _local.ReadAsync(start, slice).ConfigureAwait(false);
            BinaryPrimitives.WriteUInt64BigEndian(result.AsSpan((int)(i * 8)), XxHash3.HashToUInt64(slice.Span));
        }
        return result;
    }

    private void ReleaseFence(int peerId, long lba, long blockCount)
    {
        RangeLock.Holder holder;
        lock (_fences)
        {
            if (!_fences.Remove((peerId, lba, blockCount), out holder))
                return;
        }
        holder.Dispose();
    }

    private void ReleaseFencesOf(int peerId)
    {
        List<RangeLock.Holder> held = [];
        lock (_fences)
        {
            foreach (var key in _fences.Keys.Where(k => k.Peer == peerId).ToList())
            {
                held.Add(_fences[key]);
                _fences.Remove(key);
            }
        }
        foreach (var holder in held)
            holder.Dispose();
    }

    /// <summary>Runs a slow request off the receive loop and replies when it is done.</summary>
    private void RunAndReply(ReplicationLink link, ulong requestId, Func<Task<byte[]?>> work)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                byte[]? body = await work().ConfigureAwait(false);
                link.Reply(requestId, ReplyStatus.Ok, body);
            }
            catch (IOException e)
            {
                _log.LogError(e, "A request of replica {Peer} failed on {Device}", link.PeerId, _options.DeviceName);
                link.Reply(requestId, ReplyStatus.IoError);
            }
            catch (OperationCanceledException)
            {
                link.Reply(requestId, ReplyStatus.NotReady);
            }
        });
    }

    private bool IsWholeBlocks(int bytes) => bytes > 0 && bytes % BlockSize == 0;

    private bool InRange(long lba, long blockCount) => lba >= 0 && blockCount > 0 && lba + blockCount <= BlockCount;

    private InvalidDataException BadRequest(ReplicationLink link, FrameHeader header, string what)
    {
        link.Reply(header.RequestId, ReplyStatus.BadRequest);
        return new InvalidDataException($"Replica {link.PeerId} sent a {what}.");
    }

    private ReplicaPeer PeerById(int id)
    {
        foreach (var peer in _peers)
        {
            if (peer.Id == id)
                return peer;
        }
        throw new InvalidOperationException($"Replica {id} is not a partner of {_options.DeviceName}.");
    }
}
