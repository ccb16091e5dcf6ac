using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Replication.Sync;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Replicas;

/// <summary>Replication links: the lower replica id dials, the higher one accepts.</summary>
public sealed partial class ReplicatedDevice
{
    /// <summary>Starts dialing the partners this node connects to.</summary>
    public void Start()
    {
        foreach (var peer in _peers)
        {
            if (peer.Id > LocalId)
            {
                Track(Task.Run(() => DialLoopAsync(peer)));
                StartHeartbeatDialing(peer);
            }
        }
        StartFailoverMonitor();
        // Record that we run: if this process dies, the next start knows it was not a clean stop.
        Track(PersistAsync());
        RaiseStateChanged();
    }

    private async Task DialLoopAsync(ReplicaPeer peer)
    {
        CancellationToken stop = _stopping.Token;
        string? lastError = null;
        while (!stop.IsCancellationRequested)
        {
            if (peer.Link is { IsUp: true } current)
            {
                await current.Completion.WaitAsync(stop).ConfigureAwait(false);
                continue;
            }
            foreach (string channel in peer.Member.SyncChannels)
            {
                try
                {
                    await DialLinkAsync(peer, channel, ChannelKind.Sync, stop).ConfigureAwait(false);
                    lastError = null;
                    break;
                }
                catch (Exception e) when (e is SocketException or IOException or ReplicationRejectedException or OperationCanceledException or FormatException or TimeoutException)
                {
                    if (stop.IsCancellationRequested)
                        return;
                    string error = $"{channel}: {e.Message}";
                    if (error != lastError)
                        _log.LogWarning("{Device}: cannot reach replica {Peer} at {Error}", _options.DeviceName, peer.Id, error);
                    lastError = error;
                }
            }
            if (peer.Link is not { IsUp: true })
            {
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
    }

    private async Task<ReplicationLink> DialLinkAsync(ReplicaPeer peer, string channel, ChannelKind kind, CancellationToken stop)
    {
        var endpoint = ParseEndpoint(channel);
        int timeout = (int)_options.Timings.HandshakeTimeout.TotalMilliseconds;
        // Connect and handshake synchronously (on a pool thread): the link's socket must never see
        // an asynchronous operation (see Handshake).
        return await Task.Run(() =>
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                ConnectWithTimeout(socket, endpoint, timeout);
                var stream = new NetworkStream(socket, ownsSocket: true);
                var reader = new FrameReader(stream);
                Handshake.Dial(stream, reader, _options.Cluster, LocalId, peer.Id, _options.DeviceNaa, timeout, kind);
                return kind == ChannelKind.Heartbeat ? AttachHeartbeat(peer, stream, reader, channel) : Attach(peer, stream, reader);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }, stop).ConfigureAwait(false);
    }

    private static void ConnectWithTimeout(Socket socket, IPEndPoint endpoint, int timeoutMilliseconds)
    {
        socket.Blocking = false;
        try
        {
            socket.Connect(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            if (!socket.Poll(TimeSpan.FromMilliseconds(timeoutMilliseconds), SelectMode.SelectWrite))
                throw new TimeoutException($"Connecting to {endpoint} timed out.");
            int error = (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            if (error != 0)
                throw new SocketException(error);
        }
        socket.Blocking = true;
    }

    /// <summary>
    /// Listener side: a partner dialed us for this device. Authenticates it and takes the link.
    /// </summary>
    public void Accept(Stream stream, FrameReader reader, Hello hello, int timeoutMilliseconds)
    {
        if (_disposed)
        {
            Handshake.TryReject(stream, "the device is being removed");
            throw new ReplicationRejectedException($"{_options.DeviceName} is being removed.");
        }
        ReplicaPeer? peer = _peers.FirstOrDefault(p => p.Id == hello.SenderId);
        if (hello.ReceiverId != LocalId || peer is null || peer.Id > LocalId)
        {
            Handshake.TryReject(stream, $"this node is replica {LocalId} of the device; replica {hello.SenderId} may not dial it");
            throw new ReplicationRejectedException($"Replica {hello.SenderId} dialed {_options.DeviceName} as replica {hello.ReceiverId}; this node is replica {LocalId}.");
        }
        Handshake.Accept(stream, reader, _options.Cluster, hello, timeoutMilliseconds);
        if (hello.Channel == ChannelKind.Heartbeat)
            AttachHeartbeat(peer, stream, reader, "accepted");
        else
            Attach(peer, stream, reader);
    }

    private ReplicationLink Attach(ReplicaPeer peer, Stream stream, FrameReader reader)
    {
        var link = new ReplicationLink(LocalId, peer.Id, stream, reader, this, _sendLock, _options.Timings);
        ReplicationLink? old;
        lock (_stateLock)
        {
            if (peer.LossRecorded is { IsCompleted: false })
            {
                // The strategy is deciding about this partner (we may be waiting until it has
                // surely stopped): it must not come back in the middle. It redials once decided.
                peer.LinkDownTicks = System.Diagnostics.Stopwatch.GetTimestamp();
                stream.Dispose();
                throw new IOException($"Replica {peer.Id} is being decided about by the failover strategy; its link is refused for now.");
            }
            old = peer.Link;
            peer.Link = link;
        }
        old?.Fail(new IOException("Replaced by a new link."));
        _log.LogInformation("{Device}: link to replica {Peer} is up", _options.DeviceName, peer.Id);
        // Watermarks count exactly the partners whose writes we apply: from before the first
        // frame of this link is handled until its loop is gone.
        _ordering.AddPeer(peer.Id);
        Array.Clear(peer.SkipsNode); // what it said on an earlier link no longer holds; it says again below
        link.Start();
        if (_peers.Length > 1)
        {
            // Three-way: which of our partners our writes reach, in order with them on this link.
            lock (_sendLock)
            {
                foreach (var other in _peers)
                {
                    if (other != peer)
                        TellWritesToLocked(link, other.Id, other.ReceivesWrites);
                }
            }
            link.Flush();
        }
        SendStatus(link);
        BroadcastReachIfThreeWay();
        RaiseStateChanged();
        return link;
    }

    void ILinkHandler.OnLinkDown(ReplicationLink link, Exception? reason)
    {
        ReplicaPeer peer = PeerById(link.PeerId);
        lock (_stateLock)
        {
            if (peer.Link != link)
                return;
            peer.Link = null;
        }
        _ordering.RemovePeer(peer.Id);
        ReleaseFencesOf(peer.Id);
        ReleaseReservationGate(peer.Id);
        if (!_disposed)
        {
            peer.CountLinkLoss();
            peer.LinkDownTicks = System.Diagnostics.Stopwatch.GetTimestamp();
            _log.LogWarning(FailoverEvents.ChannelDown, "{Device}: sync channel to replica {Peer} is down: {Reason}", _options.DeviceName, peer.Id, reason?.Message ?? "closed");
            if (!peer.HeartbeatAnswering)
                _log.LogError(FailoverEvents.AllChannelsLost, "{Device}: every channel to replica {Peer} is lost (sync and heartbeat)", _options.DeviceName, peer.Id);
            AbandonIncomingSync(peer);
            _ = RecordLossAsync(peer, link);
            BroadcastReachIfThreeWay();
        }
        RaiseStateChanged();
    }

    private static IPEndPoint ParseEndpoint(string channel)
    {
        if (IPEndPoint.TryParse(channel, out var endpoint))
        {
            if (endpoint.Port == 0)
                endpoint.Port = ReplicaLimits.DefaultReplicationPort;
            return endpoint;
        }
        throw new FormatException($"Sync channel '{channel}' is not an IP address with an optional port.");
    }

    /// <summary>Tests: the journal, to mark a write as in flight at a simulated crash.</summary>
    internal InFlightJournal? Journal => _journal;

    /// <summary>
    /// Tests: dies as a killed process would, without a clean shutdown: links drop, nothing is
    /// persisted (the header still says the node was running), the journal keeps its counters.
    /// </summary>
    internal async Task SimulateCrashAsync()
    {
        _disposed = true;
        _stopping.Cancel();
        foreach (var peer in _peers)
        {
            if (peer.Link is { } link)
                await link.DisposeAsync().ConfigureAwait(false);
            await DisposeHeartbeatsAsync(peer).ConfigureAwait(false);
        }
        _journal?.Dispose();
    }

    private async Task DisposeHeartbeatsAsync(ReplicaPeer peer)
    {
        ReplicationLink[] heartbeats = peer.HeartbeatLinksNow();
        foreach (var heartbeat in heartbeats)
            await heartbeat.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stopping.Cancel();
        foreach (var peer in _peers)
        {
            peer.SyncCancellation?.Cancel();
            if (peer.Link is { } link)
                await link.DisposeAsync().ConfigureAwait(false);
            await DisposeHeartbeatsAsync(peer).ConfigureAwait(false);
        }
        if (_witness is { } witness)
            await ReleaseAndCloseWitnessAsync(witness).ConfigureAwait(false);
        try
        {
            Task[] background;
            lock (_background)
                background = [.. _background];
            await Task.WhenAll(background).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Cancelled loops, or a failure already logged where it happened: closing the local
            // copy cleanly matters more than how a background task ended.
        }
        try
        {
            await PersistAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Logged by PersistAsync; closing the local copy matters more.
        }
        _journal?.Dispose();
        await _local.DisposeAsync().ConfigureAwait(false);
    }
}
