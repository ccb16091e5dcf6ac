using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Replicas;

/// <summary>
/// Heartbeat channels: links of their own, on the networks given as a partner's heartbeat
/// channels, dialed by the lower replica id (one link per channel) and answered independently of
/// the sync channels. They carry no data; they tell the failover strategy whether a partner whose
/// sync channels are all lost is still alive (docs/design/failover.md).
/// </summary>
public sealed partial class ReplicatedDevice
{
    private void StartHeartbeatDialing(ReplicaPeer peer)
    {
        foreach (string channel in peer.Member.HeartbeatChannels)
            Track(Task.Run(() => HeartbeatDialLoopAsync(peer, channel)));
    }

    private async Task HeartbeatDialLoopAsync(ReplicaPeer peer, string channel)
    {
        CancellationToken stop = _stopping.Token;
        string? lastError = null;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var link = await DialLinkAsync(peer, channel, ChannelKind.Heartbeat, stop).ConfigureAwait(false);
                lastError = null;
                await link.Completion.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or IOException or ReplicationRejectedException or OperationCanceledException or FormatException or TimeoutException)
            {
                string error = $"{channel}: {e.Message}";
                if (error != lastError)
                    _log.LogWarning(FailoverEvents.ChannelDown, "{Device}: heartbeat channel to replica {Peer} is down ({Error})", _options.DeviceName, peer.Id, error);
                lastError = error;
            }
            try
            {
                await Task.Delay(_options.Timings.ReconnectDelay, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A heartbeat link is authenticated (dialed or accepted): it starts answering.</summary>
    private ReplicationLink AttachHeartbeat(ReplicaPeer peer, Stream stream, FrameReader reader, string endpoint)
    {
        var channel = new HeartbeatChannel(this, peer, endpoint);
        var link = new ReplicationLink(LocalId, peer.Id, stream, reader, channel, channel.SendLock, _options.Timings);
        lock (peer.HeartbeatLinks)
            peer.HeartbeatLinks.Add(link);
        link.Start();
        _log.LogInformation(FailoverEvents.ChannelUp, "{Device}: heartbeat channel to replica {Peer} is up ({Endpoint})", _options.DeviceName, peer.Id, endpoint);
        RaiseStateChanged();
        return link;
    }

    internal void OnHeartbeatDown(HeartbeatChannel channel, ReplicationLink link, Exception? reason)
    {
        lock (channel.Peer.HeartbeatLinks)
            channel.Peer.HeartbeatLinks.Remove(link);
        if (_disposed)
            return;
        _log.LogWarning(FailoverEvents.ChannelDown, "{Device}: heartbeat channel to replica {Peer} is down ({Endpoint}): {Reason}",
            _options.DeviceName, channel.Peer.Id, channel.Endpoint, reason?.Message ?? "closed");
        if (channel.Peer.Link is null && !channel.Peer.HeartbeatAnswering)
            _log.LogError(FailoverEvents.AllChannelsLost, "{Device}: every channel to replica {Peer} is lost (sync and heartbeat)", _options.DeviceName, channel.Peer.Id);
        RaiseStateChanged();
    }

    /// <summary>What a partner said over its heartbeat channels.</summary>
    private enum PartnerAnswer
    {
        /// <summary>Nothing answered.</summary>
        None,
        /// <summary>It answered and holds a current (synchronized) copy.</summary>
        Current,
        /// <summary>It answered, but its copy is not synchronized: it does not serve.</summary>
        Behind,
    }

    /// <summary>How a fence over a heartbeat channel ended.</summary>
    private enum FenceAnswer
    {
        /// <summary>The partner stopped serving.</summary>
        Stopped,
        /// <summary>The partner went on without us already (it lost every channel first): we must yield.</summary>
        WentOn,
        /// <summary>No answer.</summary>
        NoAnswer,
    }

    /// <summary>Our answer to a probe: one byte, 1 when this copy is synchronized.</summary>
    internal byte[] ProbeAnswer() => [(byte)(LocalState == ReplicaState.Synchronized ? 1 : 0)];

    /// <summary>
    /// Whether a heartbeat channel to <paramref name="peer"/> answers a probe now: a fresh answer,
    /// not a remembered heartbeat (a partner that froze a moment ago still has an open link), and
    /// whether its copy is current.
    /// </summary>
    private async Task<PartnerAnswer> HeartbeatAnswersAsync(ReplicaPeer peer)
    {
        ReplicationLink[] links = peer.HeartbeatLinksNow();
        if (links.Length == 0)
            return PartnerAnswer.None;
        byte[] probe = new ProbeMessage().ToBytes();
        var answers = links.Select(l => AskAsync(l, probe)).ToList();
        while (answers.Count > 0)
        {
            var first = await Task.WhenAny(answers).ConfigureAwait(false);
            if (await first.ConfigureAwait(false) is { IsOk: true } reply)
                return reply.Body is [1, ..] ? PartnerAnswer.Current : PartnerAnswer.Behind;
            answers.Remove(first);
        }
        return PartnerAnswer.None;
    }

    /// <summary>
    /// Asks <paramref name="peer"/>, over its heartbeat channels, to stop serving because this node
    /// goes on without it.
    /// </summary>
    private async Task<FenceAnswer> FenceOverHeartbeatAsync(ReplicaPeer peer, string reason)
    {
        ReplicationLink[] links = peer.HeartbeatLinksNow();
        byte[] fence = new FenceMessage(reason, Header.Generation).ToBytes();
        foreach (var link in links)
        {
            switch (await AskAsync(link, fence).ConfigureAwait(false))
            {
                case { IsOk: true }:
                    return FenceAnswer.Stopped;
                case { Status: ReplyStatus.NotReady }:
                    return FenceAnswer.WentOn;
            }
        }
        return FenceAnswer.NoAnswer;
    }

    /// <summary>One request on a link, with an answer within the failover probe time (null: none).</summary>
    private async Task<LinkReply?> AskAsync(ReplicationLink link, byte[] body)
    {
        try
        {
            return await link.RequestAsync(FrameType.Control, new BytesPayload(body)).AsTask()
                .WaitAsync(FailoverTimings.ProbeTimeout(_options.Timings), _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// A partner that outranks us lost its sync channels to us and goes on alone: stop serving
    /// (our copy will be left behind), drop the sync link if it still stands, and answer once done.
    /// </summary>
    internal void OnFenced(ReplicaPeer peer, ReplicationLink heartbeat, ulong requestId, string reason, string fencerGeneration)
    {
        if (Header.History.Contains(fencerGeneration))
        {
            // We went on without it already (every channel was lost on our side first): our copy
            // has writes it lacks. It must yield, not us; it completed nothing without us.
            _log.LogWarning(FailoverEvents.Fenced, "{Device}: replica {Peer} asks this node to stop, but this node already went on without it; refused",
                _options.DeviceName, peer.Id);
            heartbeat.Reply(requestId, ReplyStatus.NotReady);
            return;
        }
        _log.LogWarning(FailoverEvents.Fenced, "{Device}: replica {Peer} goes on without this node ({Reason}); this node stops serving",
            _options.DeviceName, peer.Id, reason);
        Track(Task.Run(async () =>
        {
            try
            {
                await YieldToAsync(peer, $"replica {peer.Id} lost its sync channels to this node and outranks it").ConfigureAwait(false);
                heartbeat.Reply(requestId, IsServing ? ReplyStatus.NotReady : ReplyStatus.Ok);
            }
            catch (Exception e)
            {
                _log.LogError(e, "{Device}: could not stop serving for replica {Peer}", _options.DeviceName, peer.Id);
                heartbeat.Reply(requestId, ReplyStatus.IoError);
            }
        }));
    }
}
