namespace Tandem.Replication.Wire;

/// <summary>Kinds of frame on a replication link (see docs/design/replication.md, "Wire format").</summary>
public enum FrameType : byte
{
    // Handshake: the dialing node sends Hello, the listener answers HelloAck (with its proof),
    // the dialer finishes with HelloProof. Reject ends a handshake with a reason.
    Hello = 1,
    HelloAck = 2,
    HelloProof = 3,
    Reject = 4,

    /// <summary>Carries only the sender's clock; keeps watermarks moving and proves the link alive.</summary>
    Heartbeat = 5,

    /// <summary>Answer to any request, matched by request id; carries a status and an optional payload.</summary>
    Reply = 6,

    /// <summary>A stamped client write to apply (newest stamp wins per block).</summary>
    Write = 10,

    /// <summary>A stamped deallocation (UNMAP, WRITE SAME with UNMAP); ordered like a write of zeros.</summary>
    Unmap = 11,

    /// <summary>Make every applied write durable (SYNCHRONIZE CACHE, FUA barrier).</summary>
    Flush = 12,

    /// <summary>Resynchronization data: unstamped, sent under a fence, applied as is.</summary>
    SyncData = 13,

    /// <summary>Hold new writes to a range originating on the receiver and wait for its in-flight ones.</summary>
    Fence = 14,

    /// <summary>Release a fence.</summary>
    Unfence = 15,

    /// <summary>Ask for per-extent checksums of a range (online verify).</summary>
    Checksums = 16,

    /// <summary>A control message with a small JSON body (replica status, resize, sync start/end).</summary>
    Control = 17,

    /// <summary>Resynchronization of a range that holds no data on the source (thin): deallocate it.</summary>
    SyncUnmap = 18,
}

/// <summary>Outcome carried by a <see cref="FrameType.Reply"/>.</summary>
public enum ReplyStatus : uint
{
    Ok = 0,
    /// <summary>The receiver's storage failed the operation.</summary>
    IoError = 1,
    /// <summary>The receiver is not in a state to accept it (e.g. the device is being removed).</summary>
    NotReady = 2,
    /// <summary>The request was malformed or out of range; the link is closed after this reply.</summary>
    BadRequest = 3,
    /// <summary>Produced locally, never sent: the link went down before the reply arrived.</summary>
    LinkDown = 100,
}
