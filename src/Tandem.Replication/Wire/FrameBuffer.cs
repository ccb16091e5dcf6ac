using Tandem.Storage.Checksums;

namespace Tandem.Replication.Wire;

/// <summary>
/// Frames waiting to be sent on one link, in order: small frames encoded back to back (header,
/// payload, CRC32C) into an owned buffer, and prepared frames referenced where they are. Not
/// thread-safe: the owner serialises appends and swaps.
/// </summary>
public sealed class FrameBuffer(int initialSize = 256 * 1024)
{
    private byte[] _bytes = new byte[initialSize];
    private int _ownLength;

    /// <summary>Prepared frames and where in the owned bytes each one goes (in queue order).</summary>
    private readonly List<(int OwnOffset, ReadOnlyMemory<byte> Frame)> _prepared = [];

    /// <summary>Total bytes queued.</summary>
    public int Length { get; private set; }

    public void Append<T>(FrameType type, byte flags, ulong requestId, long senderClock, in T payload) where T : struct, IPayload
    {
        int payloadSize = payload.PayloadSize;
        if (payloadSize > FrameHeader.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(payload), $"A {type} payload of {payloadSize} bytes exceeds the {FrameHeader.MaxPayload}-byte frame limit.");
        int length = FrameHeader.Overhead + payloadSize;
        EnsureRoom(length);
        Span<byte> frame = _bytes.AsSpan(_ownLength, length);
        new FrameHeader(length, type, flags, requestId, senderClock).Write(frame);
        Span<byte> body = frame.Slice(FrameHeader.Size, payloadSize);
        payload.Write(body);
        Crc32C.Write(frame[(length - FrameHeader.TrailerSize)..], FrameHeader.Checksum(frame, body));
        _ownLength += length;
        Length += length;
    }

    /// <summary>Queues a prepared frame by reference (it is stamped here, under the owner's lock).</summary>
    public void Append(PreparedFrame frame, byte flags, ulong requestId, long senderClock)
    {
        _prepared.Add((_ownLength, frame.Stamp(flags, requestId, senderClock)));
        Length += frame.Length;
    }

    /// <summary>Hands every queued byte, in order, to <paramref name="send"/>.</summary>
    public void SendTo(Action<ReadOnlySpan<byte>> send)
    {
        int own = 0;
        foreach (var (ownOffset, frame) in _prepared)
        {
            if (ownOffset > own)
                send(_bytes.AsSpan(own, ownOffset - own));
            own = ownOffset;
            send(frame.Span);
        }
        if (_ownLength > own)
            send(_bytes.AsSpan(own, _ownLength - own));
    }

    public void Clear()
    {
        _ownLength = 0;
        Length = 0;
        _prepared.Clear();
    }

    private void EnsureRoom(int length)
    {
        if (_ownLength + length <= _bytes.Length)
            return;
        Array.Resize(ref _bytes, Math.Max(_ownLength + length, _bytes.Length * 2));
    }
}
