namespace Tandem.Replication.Wire;

/// <summary>A frame payload that knows its size and writes itself (structs: sending does not box).</summary>
public interface IPayload
{
    int PayloadSize { get; }
    void Write(Span<byte> payload);
}

/// <summary>No payload (heartbeat, flush).</summary>
public readonly struct EmptyPayload : IPayload
{
    public int PayloadSize => 0;
    public void Write(Span<byte> payload) { }
}

/// <summary>Raw bytes as payload (control JSON, handshake, checksums).</summary>
public readonly struct BytesPayload(ReadOnlyMemory<byte> bytes) : IPayload
{
    public int PayloadSize => bytes.Length;
    public void Write(Span<byte> payload) => bytes.Span.CopyTo(payload);
}

/// <summary>A reply: status and optional body.</summary>
public readonly struct ReplyPayload(ReplyStatus status, ReadOnlyMemory<byte> body = default) : IPayload
{
    public int PayloadSize => ReplyMessage.FixedSize + body.Length;
    public void Write(Span<byte> payload) => ReplyMessage.Write(payload, status, body.Span);
}
