using Microsoft.Extensions.Logging;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Replicas;

/// <summary>
/// A partner lost mid-send (three-way): its last writes, never acknowledged, may have reached the
/// two survivors differently. Each survivor tells the other the newest write of the lost partner
/// it applied; each rewrites, through the replication path and under the cluster range lock,
/// whatever it applied after the other's newest. A partner's writes arrive on every link in stamp
/// order, so "applied after" is exactly the difference. See docs/design/replication.md.
/// </summary>
public sealed partial class ReplicatedDevice
{
    /// <summary>Tells every partner still receiving writes how far this node got with the lost one's writes.</summary>
    private void TellSurvivorsHowFarWeGot(ReplicaPeer lost)
    {
        byte[]? body = null;
        foreach (var peer in _peers)
        {
            if (peer == lost || !peer.ReceivesWrites || peer.Link is not { IsUp: true } link)
                continue;
            body ??= new LastWritesMessage(lost.Id, lost.RecentWrites.NewestLamport).ToBytes();
            _ = SendControlAsync(link, body);
        }
    }

    /// <summary>
    /// Rewrites what this node applied from <paramref name="lost"/> after <paramref name="theirNewest"/>
    /// (the newest of its writes that partner <paramref name="reporter"/> applied): the current local
    /// data goes to every partner as a new write, so all copies end with the same data.
    /// </summary>
    private async Task RewriteLastWritesAsync(ReplicaPeer lost, long theirNewest, int reporter)
    {
        try
        {
            // Writes of the lost partner may still be arriving here: wait until this node has
            // lost it too (its late frames are then discarded), or it was not lost here at all.
            var deadline = DateTime.UtcNow + _options.Timings.Timeout;
            while (lost.Link is { IsUp: true } && DateTime.UtcNow < deadline)
                await Task.Delay(20, _stopping.Token).ConfigureAwait(false);

            var ranges = lost.RecentWrites.Above(theirNewest, out bool complete);
            if (!complete)
                _log.LogWarning("{Device}: replica {Lost} was lost with more writes in flight than this node keeps track of; " +
                    "run 'tandem device verify {Device}' to find ranges where the replicas may differ", _options.DeviceName, lost.Id, _options.DeviceName);
            if (ranges.Count == 0)
                return;
            _log.LogWarning("{Device}: replica {Lost} was lost mid-send: rewriting {Count} ranges of its last writes that replica {Reporter} may lack",
                _options.DeviceName, lost.Id, ranges.Count, reporter);
            int chunkBlocks = MaxWriteChunk / BlockSize;
            byte[] buffer = new byte[Math.Min(MaxWriteChunk, ranges.Max(r => r.BlockCount) * BlockSize)];
            foreach (var range in ranges)
            {
                for (long lba = range.Lba; lba < range.End; lba += chunkBlocks)
                {
                    if (!_serving || _disposed)
                        return;
                    int blocks = (int)Math.Min(chunkBlocks, range.End - lba);
                    var data = buffer.AsMemory(0, blocks * BlockSize);
                    // No client write to the range is in flight anywhere while it is read and rewritten.
                    await using (await LockRangeAsync(lba, blocks, _stopping.Token).ConfigureAwait(false))
                    {
                        await _local.ReadAsync(lba, data, _stopping.Token).ConfigureAwait(false);
                        await WriteLockedAsync(lba, data, Tandem.Storage.WriteFlags.None, _stopping.Token).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // The device is stopping.
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Device}: rewriting the last writes of lost replica {Lost} failed; run 'tandem device verify {Device}'",
                _options.DeviceName, lost.Id, _options.DeviceName);
        }
    }
}
