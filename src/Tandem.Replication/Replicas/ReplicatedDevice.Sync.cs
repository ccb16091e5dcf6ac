using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Links;
using Tandem.Replication.Sync;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Replicas;

/// <summary>Resynchronization (this node copies to a partner) and online verify.</summary>
public sealed partial class ReplicatedDevice
{
    /// <summary>Extents copied under one origin-lock window (1 MiB).</summary>
    private const int ExtentsPerWindow = 16;

    /// <summary>Windows in flight when clients are idle; one when they are busy (client I/O first).</summary>
    private const int IdleWindowsInFlight = 8;

    /// <summary>Starts synchronizing a partner from this node (fast: the bitmap's extents; full: everything).</summary>
    /// <param name="serveOnceBegun">
    /// This node holds the copy to keep but does not serve yet (both restarted after a crash): it
    /// starts serving once the partner receives its writes, in the sync.
    /// </param>
    public void StartSync(ReplicaPeer peer, bool full, bool force = false, bool serveOnceBegun = false)
    {
        ReplicationLink link;
        SyncProgress progress;
        CancellationTokenSource cancellation;
        lock (_stateLock)
        {
            if (peer.Sync is not null || _disposed)
                return;
            if (peer.Link is not { IsUp: true } up)
                throw new InvalidOperationException($"Replica {peer.Id} is not connected.");
            link = up;
            if (!_serving && !(serveOnceBegun && LocalState == ReplicaState.Synchronized))
                throw new InvalidOperationException("This node does not hold synchronized data; synchronize it from a partner instead.");
            if (full)
                peer.Bitmap.MarkAll();
            cancellation = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            peer.SyncCancellation = cancellation;
            peer.Sync = progress = new SyncProgress(full ? "full" : "fast", LocalId, peer.Id, peer.Bitmap.DirtyBytes);
        }
        // The link checked above, not peer.Link when the task runs: by then the link may be down
        // and peer.Link null or a newer link the sync was not begun on.
        Track(Task.Run(() => RunSyncAsync(peer, link, progress, force, serveOnceBegun, cancellation.Token)));
        RaiseStateChanged();
    }

    /// <summary>Starts a resync of every connected partner that is not synchronized (API "device sync").</summary>
    public int SyncNow(bool full)
    {
        int started = 0;
        foreach (var peer in _peers)
        {
            if (peer.Sync is not null || peer.Link is not { IsUp: true })
                continue;
            if (peer.ReceivesWrites && !full)
                continue;
            bool force = peer.ReceivesWrites; // a synchronized partner copied again in full stops serving until done
            StartSync(peer, full || peer.BitmapGeneration is null, force);
            started++;
        }
        return started;
    }

    private async Task RunSyncAsync(ReplicaPeer peer, ReplicationLink link, SyncProgress progress, bool force, bool serveOnceBegun, CancellationToken ct)
    {
        _log.LogInformation("{Device}: {Kind} synchronization of replica {Peer} starts: {Bytes} bytes to copy",
            _options.DeviceName, progress.Kind, peer.Id, progress.BytesTotal);
        try
        {
            var begin = await link.RequestAsync(FrameType.Control, new BytesPayload(new SyncBeginMessage(progress.Kind, force).ToBytes())).ConfigureAwait(false);
            if (!begin.IsOk)
                throw new IOException($"Replica {peer.Id} refused to be synchronized ({begin.Status}).");

            // From here on, client writes go to the partner too. Writes that chose to mark the
            // bitmap instead hold their origin lock until marked; taking the whole device once
            // waits them out, so the scan below sees every mark.
            SetReceivesWrites(peer, true);
            if (serveOnceBegun)
                StartServingAsSource(peer);
            using (await _originLock.AcquireAsync(0, BlockCount, ct).ConfigureAwait(false))
            {
            }

            await CopyDirtyExtentsAsync(peer, link, progress, ct).ConfigureAwait(false);

            await _local.FlushAsync(ct).ConfigureAwait(false);
            // A source that stopped serving meanwhile (it lost its majority, or yielded) no longer
            // holds the copy to keep: the partner must not adopt it.
            if (!_serving)
                throw new IOException("this node stopped serving during the synchronization");
            // From the moment sync-end leaves, the partner may be synchronized and serving even if
            // its answer never arrives: record it so first (durably), so that losing it then goes
            // through the failover strategy and a new generation, never a silent go-alone.
            lock (_stateLock)
                peer.RecordedState = ReplicaState.Synchronized;
            await PersistAsync().ConfigureAwait(false);
            var header = Header;
            var end = await link.RequestAsync(FrameType.Control, new BytesPayload(new SyncEndMessage(header.Generation, header.History).ToBytes())).ConfigureAwait(false);
            if (!end.IsOk && end.Status != ReplyStatus.LinkDown)
            {
                // It answered, and not synchronized: it is not.
                lock (_stateLock)
                    peer.RecordedState = ReplicaState.NotSynchronized;
                await PersistAsync().ConfigureAwait(false);
            }
            if (!end.IsOk)
                throw new IOException($"Replica {peer.Id} could not complete the synchronization ({end.Status}).");
            progress.Finish();
            lock (_stateLock)
            {
                peer.RecordedState = ReplicaState.Synchronized;
                peer.BitmapGeneration = null;
                peer.SplitBrain = false;
                peer.LastSync = progress;
                peer.Sync = null;
                _suspects = null; // our version of every doubtful extent is now on the partner too
            }
            await PersistAsync().ConfigureAwait(false);
            _log.LogInformation("{Device}: {Kind} synchronization of replica {Peer} done: {Bytes} bytes in {Seconds:0.0} s ({Rate} MiB/s)",
                _options.DeviceName, progress.Kind, peer.Id, progress.BytesDone, progress.Elapsed.TotalSeconds, progress.RateBytesPerSecond >> 20);
        }
        catch (Exception e)
        {
            // Expected: the link or the partner failed, or the sync was cancelled. Anything else is
            // a defect, logged as an error; either way the sync must end, or none could start again.
            if (e is IOException or OperationCanceledException or InvalidOperationException)
                _log.LogWarning("{Device}: synchronization of replica {Peer} stopped after {Bytes} bytes: {Reason}",
                    _options.DeviceName, peer.Id, progress.BytesDone, e.Message);
            else
                _log.LogError(e, "{Device}: synchronization of replica {Peer} failed after {Bytes} bytes",
                    _options.DeviceName, peer.Id, progress.BytesDone);
            lock (_stateLock)
            {
                progress.Finish();
                peer.Sync = null;
                peer.LastSync = progress;
            }
            if (peer.RecordedState != ReplicaState.Synchronized)
                SetReceivesWrites(peer, false);
        }
        RaiseStateChanged();
        BroadcastStatus();
    }

    /// <summary>The partner now receives our writes: a copier waiting for that may serve.</summary>
    private void StartServingAsSource(ReplicaPeer peer)
    {
        lock (_stateLock)
        {
            if (_serving || LocalState != ReplicaState.Synchronized || !StartsServingWith(peer))
                return;
            _serving = true;
            _log.LogInformation("{Device}: serving I/O while synchronizing replica {Peer}", _options.DeviceName, peer.Id);
        }
        Unsuspend($"replica {peer.Id} receives this node's writes");
        RaiseStateChanged();
        BroadcastStatus();
    }

    /// <summary>
    /// Copies marked extents in 1 MiB windows. Each window is held under the origin lock (no client
    /// write to it is in flight or can start) from the read until the partner has the data; then
    /// its bits are cleared. Several windows are in flight when clients are idle, one when not.
    /// </summary>
    private async Task CopyDirtyExtentsAsync(ReplicaPeer peer, ReplicationLink link, SyncProgress progress, CancellationToken ct)
    {
        DirtyBitmap bitmap = peer.Bitmap;
        int blocksPerExtent = bitmap.BlocksPerExtent;
        using var inFlight = new SemaphoreSlim(IdleWindowsInFlight);
        var windows = new List<Task>();
        Exception? failure = null;
        var rate = new RateLimiter(_options.SyncRateLimit);
        long extent = bitmap.NextDirty(0);
        while (extent >= 0 && failure is null)
        {
            ct.ThrowIfCancellationRequested();
            long windowStart = extent / ExtentsPerWindow * ExtentsPerWindow;
            long windowEnd = Math.Min(windowStart + ExtentsPerWindow, bitmap.ExtentCount);
            await inFlight.WaitAsync(ct).ConfigureAwait(false);
            // Client I/O first: while clients are busy, keep a single window in flight.
            while (Interlocked.Read(ref _clientIo) > 0 && inFlight.CurrentCount < IdleWindowsInFlight - 1)
                await Task.Delay(1, ct).ConfigureAwait(false);
            windows.Add(CopyWindowAsync(windowStart, windowEnd));
            windows.RemoveAll(t => t.IsCompleted && t.Exception is null);
            extent = bitmap.NextDirty(windowEnd);
        }
        await Task.WhenAll(windows).ConfigureAwait(false);
        if (failure is not null)
            throw failure;

        async Task CopyWindowAsync(long first, long end)
        {
            // Each run of adjacent dirty extents travels as one frame, read straight into it; on a
            // thin source, a run that holds no data travels as a deallocation instead of zeros.
            var sends = new List<(long First, long End, ValueTask<LinkReply> Reply)>();
            PreparedFrame? unsent = null;
            try
            {
                long lba = first * blocksPerExtent;
                long blocks = Math.Min((end - first) * blocksPerExtent, BlockCount - lba);
                using (await _originLock.AcquireAsync(lba, blocks, ct).ConfigureAwait(false))
                {
                    for (long e = first; e < end;)
                    {
                        if (!bitmap.IsDirty(e))
                        {
                            e++;
                            continue;
                        }
                        bool hole = await IsHoleAsync(e, blocksPerExtent, ct).ConfigureAwait(false);
                        long runEnd = e + 1;
                        while (runEnd < end && bitmap.IsDirty(runEnd) && await IsHoleAsync(runEnd, blocksPerExtent, ct).ConfigureAwait(false) == hole)
                            runEnd++;
                        long start = e * blocksPerExtent;
                        int count = (int)Math.Min((runEnd - e) * blocksPerExtent, BlockCount - start);
                        if (hole)
                        {
                            sends.Add((e, runEnd, link.RequestAsync(FrameType.SyncUnmap, new RangeMessage(start, count))));
                        }
                        else
                        {
                            unsent = SyncDataMessage.Prepare(start, count * BlockSize);
                            await _local.ReadAsync(start, unsent.Payload[SyncDataMessage.FixedSize..], ct).ConfigureAwait(false);
                            unsent.Seal();
                            await rate.WaitAsync(count * BlockSize, ct).ConfigureAwait(false);
                            var frame = unsent;
                            unsent = null;
                            sends.Add((e, runEnd, AnsweredAsync(frame, link.RequestAsync(frame))));
                        }
                        e = runEnd;
                    }
                    foreach (var (runFirst, runEnd, reply) in sends)
                    {
                        var answer = await reply.ConfigureAwait(false);
                        if (!answer.IsOk)
                            throw new IOException($"Replica {peer.Id} did not take resync data ({answer.Status}).");
                        for (long e = runFirst; e < runEnd; e++)
                        {
                            bitmap.Clear(e);
                            progress.Add(ReplicaLimits.ExtentBytes);
                        }
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
            }
            finally
            {
                unsent?.Return();
                inFlight.Release();
            }
        }
    }

    /// <summary>
    /// The reply to a prepared frame; its buffer goes back to the pool once the partner answered.
    /// After LinkDown the frame may still be in a socket send on another thread, so it is left to
    /// the garbage collector.
    /// </summary>
    private static async ValueTask<LinkReply> AnsweredAsync(PreparedFrame frame, ValueTask<LinkReply> reply)
    {
        var answer = await reply.ConfigureAwait(false);
        if (answer.Status != ReplyStatus.LinkDown)
            frame.Return();
        return answer;
    }

    /// <summary>Whether a whole extent of a thin source is unallocated (reads as zeros).</summary>
    private async ValueTask<bool> IsHoleAsync(long extent, int blocksPerExtent, CancellationToken ct)
    {
        if (!_local.IsThinProvisioned)
            return false;
        long start = extent * blocksPerExtent;
        long blocks = Math.Min(blocksPerExtent, BlockCount - start);
        var status = await _local.GetLbaStatusAsync(start, ct).ConfigureAwait(false);
        return !status.Mapped && status.Lba <= start && status.Lba + status.BlockCount >= start + blocks;
    }

    /// <summary>
    /// Online verify: asks every connected partner for per-extent checksums of the whole device and
    /// compares them with ours, a chunk at a time. Ranges that differ are returned (and marked in
    /// that partner's bitmap so a fast sync repairs them).
    /// </summary>
    public async Task<VerifyResult> VerifyAsync(CancellationToken ct)
    {
        EnsureServing();
        var partners = _peers.Where(p => p.Link is { IsUp: true } && p.ReceivesWrites).ToArray();
        if (partners.Length == 0)
            throw new InvalidOperationException("No partner is connected and synchronized; there is nothing to compare with.");
        const long ChunkBytes = 64L << 20;
        long chunkBlocks = ChunkBytes / BlockSize;
        var differences = new List<VerifyDifference>();
        long compared = 0;
        for (long lba = 0; lba < BlockCount; lba += chunkBlocks)
        {
            long blocks = Math.Min(chunkBlocks, BlockCount - lba);
            // Hold client writes to the chunk so that every copy is compared at the same point.
            using (await _originLock.AcquireAsync(lba, blocks, ct).ConfigureAwait(false))
            {
                var remote = partners.Select(p => p.Link!.RequestAsync(FrameType.Checksums, new RangeMessage(lba, blocks)).AsTask()).ToArray();
                byte[] local = await ChecksumsAsync(lba, blocks).ConfigureAwait(false);
                var replies = await Task.WhenAll(remote).ConfigureAwait(false);
                for (int i = 0; i < partners.Length; i++)
                {
                    if (!replies[i].IsOk || replies[i].Body is not { } theirs || theirs.Length != local.Length)
                        throw new IOException($"Replica {partners[i].Id} could not checksum its copy ({replies[i].Status}).");
                    int extentBlocks = ReplicaLimits.ExtentBytes / BlockSize;
                    for (int e = 0; e < local.Length / 8; e++)
                    {
                        if (BinaryPrimitives.ReadUInt64BigEndian(local.AsSpan(e * 8)) == BinaryPrimitives.ReadUInt64BigEndian(theirs.AsSpan(e * 8)))
                            continue;
                        long start = lba + (long)e * extentBlocks;
                        long length = Math.Min(extentBlocks, BlockCount - start);
                        differences.Add(new VerifyDifference(partners[i].Id, start * BlockSize, length * BlockSize));
                    }
                }
            }
            compared += blocks * BlockSize;
        }
        return new VerifyResult([LocalId, .. partners.Select(p => p.Id)], compared, MergeAdjacent(differences));
    }

    private static IReadOnlyList<VerifyDifference> MergeAdjacent(List<VerifyDifference> differences)
    {
        var merged = new List<VerifyDifference>();
        foreach (var d in differences.OrderBy(d => d.NodeId).ThenBy(d => d.OffsetBytes))
        {
            if (merged.Count > 0 && merged[^1] is var last && last.NodeId == d.NodeId && last.OffsetBytes + last.LengthBytes == d.OffsetBytes)
                merged[^1] = last with { LengthBytes = last.LengthBytes + d.LengthBytes };
            else
                merged.Add(d);
        }
        return merged;
    }

    /// <summary>Caps resync throughput (token bucket, one-second burst).</summary>
    private sealed class RateLimiter(long bytesPerSecond)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _sent;

        public async ValueTask WaitAsync(int bytes, CancellationToken ct)
        {
            if (bytesPerSecond <= 0)
                return;
            long sent = Interlocked.Add(ref _sent, bytes);
            double due = (double)sent / bytesPerSecond - _clock.Elapsed.TotalSeconds;
            if (due > 0)
                await Task.Delay(TimeSpan.FromSeconds(due), ct).ConfigureAwait(false);
        }
    }
}

/// <summary>Outcome of an online verify.</summary>
public sealed record VerifyResult(IReadOnlyList<int> ComparedNodes, long ComparedBytes, IReadOnlyList<VerifyDifference> Differences)
{
    public bool Identical => Differences.Count == 0;
}

/// <summary>A byte range whose data on <paramref name="NodeId"/> differs from this node's.</summary>
public sealed record VerifyDifference(int NodeId, long OffsetBytes, long LengthBytes);
