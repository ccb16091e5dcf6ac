using Tandem.Replication.Links;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Replicas;

/// <summary>
/// The handler of one heartbeat link: a replication link on a network of its own that carries no
/// data, only heartbeats (the link's own) and the failover messages <see cref="ProbeMessage"/> and
/// <see cref="FenceMessage"/>. It has its own send lock: nothing on it is ordered with writes.
/// </summary>
internal sealed class HeartbeatChannel(ReplicatedDevice device, ReplicaPeer peer, string endpoint) : ILinkHandler
{
    public object SendLock { get; } = new();
    public ReplicaPeer Peer => peer;

    /// <summary>The partner's heartbeat endpoint this channel dials, or where it was accepted from.</summary>
    public string Endpoint => endpoint;

    public long CurrentClock => 0;

    public ValueTask HandleRequestAsync(ReplicationLink link, FrameHeader header, ReadOnlyMemory<byte> payload)
    {
        if (header.Type != FrameType.Control)
            throw new InvalidDataException($"A heartbeat channel carries no {header.Type} frames.");
        switch (ControlMessage.Parse(payload.Span))
        {
            case ProbeMessage:
                link.Reply(header.RequestId, ReplyStatus.Ok, device.ProbeAnswer());
                break;
            case FenceMessage fence:
                device.OnFenced(peer, link, header.RequestId, fence.Reason, fence.Generation);
                break;
            default:
                link.Reply(header.RequestId, ReplyStatus.BadRequest);
                break;
        }
        return ValueTask.CompletedTask;
    }

    public void ObservePeerClock(ReplicationLink link, long clock)
    {
    }

    public ValueTask EndBatchAsync(ReplicationLink link) => ValueTask.CompletedTask;

    public void OnLinkDown(ReplicationLink link, Exception? reason) => device.OnHeartbeatDown(this, link, reason);
}
