using Tandem.Replication.Wire;

namespace Tandem.Replication.Links;

/// <summary>What a replication link needs from the replica that owns it.</summary>
public interface ILinkHandler
{
    /// <summary>
    /// Handles one request frame, in arrival order, on the link's receive loop. Writes are applied
    /// before returning (the peer's clock watermark relies on it); slow requests (flush, fence,
    /// checksums, control) start their work and reply later with <see cref="ReplicationLink.Reply"/>.
    /// The payload is valid until the batch ends (<see cref="EndBatchAsync"/>).
    /// </summary>
    ValueTask HandleRequestAsync(ReplicationLink link, FrameHeader header, ReadOnlyMemory<byte> payload);

    /// <summary>
    /// Called after every frame from the peer has been handled: the sender's clock, for watermarks.
    /// A handler that holds writes back until the batch ends observes it once they are written.
    /// </summary>
    void ObservePeerClock(ReplicationLink link, long clock);

    /// <summary>
    /// Called on the receive loop when every frame of a batch (one read) has been handled, and when
    /// the loop ends: the handler finishes any work it held back for the batch, before the replies
    /// leave. Payloads of the batch are valid until the returned task completes.
    /// </summary>
    ValueTask EndBatchAsync(ReplicationLink link);

    /// <summary>The local clock, written into every frame header (read under the send lock).</summary>
    long CurrentClock { get; }

    /// <summary>The link failed or was closed; pending requests have been answered with LinkDown.</summary>
    void OnLinkDown(ReplicationLink link, Exception? reason);
}
