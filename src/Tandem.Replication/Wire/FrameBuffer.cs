using Tandem.Storage.Checksums;

namespace Tandem.Replication.Wire;

/// <summary>
/// Frames waiting to be sent on one link, encoded back to back (header, payload, CRC32C). Not
/// thread-safe: the owner serialises appends and swaps.
/// </summary>
public sealed class FrameBuffer(int initialSize = 256 * 1024)
{
    private byte[] _bytes = new byte[initialSize];

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Written => _bytes.AsMemory(0, Length);

    public void Append<T>(FrameType type, byte flags, ulong requestId, long senderClock, in T payload) where T : struct, IPayload
    {
        int payloadSize = payload.PayloadSize;
        if (payloadSize > FrameHeader.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(payload), $"A {type} payload of {payloadSize} bytes exceeds the {FrameHeader.MaxPayload}-byte frame limit.");
        int length = FrameHeader.Overhead + payloadSize;
        EnsureRoom(length);
        Span<byte> frame = _bytes.AsSpan(Length, length);
        new FrameHeader(length, type, flags, requestId, senderClock).Write(frame);
        payload.Write(frame.Slice(FrameHeader.Size, payloadSize));
        int crcAt = length - FrameHeader.TrailerSize;
        Crc32C.Write(frame[crcAt..], Crc32C.Compute(frame[..crcAt]));
        Length += length;
    }

    public void Clear() => Length = 0;

    private void EnsureRoom(int length)
    {
        if (Length + length <= _bytes.Length)
            return;
        Array.Resize(ref _bytes, Math.Max(Length + length, _bytes.Length * 2));
    }
}
