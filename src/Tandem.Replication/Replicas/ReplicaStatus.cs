using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tandem.Replication.Replicas;

/// <summary>Control messages (JSON bodies of <see cref="Wire.FrameType.Control"/> frames).</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(StatusMessage), "status")]
[JsonDerivedType(typeof(SyncBeginMessage), "sync-begin")]
[JsonDerivedType(typeof(SyncEndMessage), "sync-end")]
[JsonDerivedType(typeof(ResizeMessage), "resize")]
[JsonDerivedType(typeof(ReservationLockMessage), "reservation-lock")]
[JsonDerivedType(typeof(ReservationStateMessage), "reservation-state")]
[JsonDerivedType(typeof(LunResetMessage), "lun-reset")]
[JsonDerivedType(typeof(LastWritesMessage), "last-writes")]
[JsonDerivedType(typeof(FenceMessage), "fence")]
[JsonDerivedType(typeof(ProbeMessage), "probe")]
[JsonDerivedType(typeof(ReachQueryMessage), "reach-query")]
[JsonDerivedType(typeof(WritesToMessage), "writes-to")]
public abstract record ControlMessage
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
    };

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <exception cref="InvalidDataException">Not a control message this version understands.</exception>
    public static ControlMessage Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize<ControlMessage>(json, Options) ?? throw new InvalidDataException("Control message is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Malformed control message: {e.Message}", e);
        }
    }
}

/// <summary>A replica's own view of itself, sent when a link comes up and whenever it changes.</summary>
/// <param name="Serving">Whether it serves I/O now (confirmed synchronized).</param>
/// <param name="Suspects">After a crash of this node: extents where its copy may differ from its partners' (its in-flight journal).</param>
/// <param name="SuspectsUnknown">After a crash this node cannot account for (no journal, machine restarted): its copy needs a full sync.</param>
/// <param name="Reaches">Replica ids of the partners this node's sync links reach and that receive its writes (three-way failover).</param>
public sealed record StatusMessage(string State, string Generation, IReadOnlyList<string> History, bool Serving,
    IReadOnlyList<long>? Suspects = null, bool SuspectsUnknown = false, IReadOnlyList<int>? Reaches = null) : ControlMessage;

/// <summary>
/// The sender starts copying its data to the receiver ("full" or "fast"). <paramref name="Force"/>:
/// the administrator asked for it, and a receiver that serves stops serving until it is done.
/// </summary>
public sealed record SyncBeginMessage(string SyncKind, bool Force = false) : ControlMessage;

/// <summary>The copy is complete: the receiver adopts the sender's generation and is synchronized.</summary>
public sealed record SyncEndMessage(string Generation, IReadOnlyList<string> History) : ControlMessage;

/// <summary>HA extend: grow to this many blocks.</summary>
public sealed record ResizeMessage(long BlockCount) : ControlMessage;

/// <summary>Take (true) or release (false) this node's reservation lock for the sender.</summary>
public sealed record ReservationLockMessage(bool Acquire) : ControlMessage;

/// <summary>The SCSI reservation state after a change (opaque to replication).</summary>
public sealed record ReservationStateMessage(byte[] State) : ControlMessage;

/// <summary>A LOGICAL UNIT RESET arrived at the sender.</summary>
public sealed record LunResetMessage() : ControlMessage;

/// <summary>
/// The sender lost replica <paramref name="LostNodeId"/>; the newest write of it that the sender
/// applied is stamped <paramref name="NewestApplied"/> (0: none). The receiver rewrites, through the
/// replication path, whatever it applied from that replica after it, so both survivors agree.
/// </summary>
public sealed record LastWritesMessage(int LostNodeId, long NewestApplied) : ControlMessage;

/// <summary>
/// Heartbeat channel: the sender lost every sync channel to the receiver and outranks it under
/// the failover strategy; the receiver stops serving (its copy is left behind) and answers once it
/// has, so the sender may go on alone (docs/design/failover.md). A receiver that already went on
/// without the sender (<paramref name="Generation"/>, the sender's, is in its history) answers
/// NotReady instead, and the sender yields.
/// </summary>
public sealed record FenceMessage(string Reason, string Generation) : ControlMessage;

/// <summary>
/// Heartbeat channel: "are you there?", answered at once (a fresh proof, not a remembered
/// heartbeat) with one byte: 1 when the answering copy is synchronized.
/// </summary>
public sealed record ProbeMessage() : ControlMessage;

/// <summary>
/// Sync channel, three-way: does the receiver still hear replica <paramref name="NodeId"/>, and
/// does that replica serve? Answered with <see cref="Wire.ReplyStatus.Ok"/> and one byte (bit 0:
/// reached, bit 1: serving).
/// </summary>
public sealed record ReachQueryMessage(int NodeId) : ControlMessage;

/// <summary>
/// Sync channel, three-way, sent in order with the sender's writes: from this frame on, the
/// sender's writes do (<paramref name="Sending"/>) or do not reach replica <paramref name="NodeId"/>.
/// The receiver marks the writes it applies from the sender for that replica while they do not, so
/// that whichever survivor resynchronizes it copies every write it missed.
/// </summary>
public sealed record WritesToMessage(int NodeId, bool Sending) : ControlMessage;
