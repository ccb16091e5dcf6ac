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
public sealed record StatusMessage(string State, string Generation, IReadOnlyList<string> History, bool Serving,
    IReadOnlyList<long>? Suspects = null, bool SuspectsUnknown = false) : ControlMessage;

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
