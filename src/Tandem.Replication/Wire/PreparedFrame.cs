using System.Buffers;
using Tandem.Storage.Checksums;

namespace Tandem.Replication.Wire;

/// <summary>
/// A frame built outside the send lock: its payload is filled (resync data read straight from the
/// image) and checksummed by the caller, and queuing it only writes the header and finishes the
/// check. The link sends it from this buffer, so bulk data is never copied into the send queue.
/// </summary>
/// <remarks>
/// Ownership: the buffer goes back to the pool with <see cref="Return"/> only after the peer
/// answered. A frame whose link failed may still be in a socket send on another thread, so it is
/// left to the garbage collector instead.
/// </remarks>
public sealed class PreparedFrame
{
    private byte[]? _bytes;
    private uint _payloadCrc;
    private bool _sealed;

    public PreparedFrame(FrameType type, int payloadSize)
    {
        if (payloadSize < 0 || payloadSize > FrameHeader.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(payloadSize), $"A {type} payload of {payloadSize} bytes exceeds the {FrameHeader.MaxPayload}-byte frame limit.");
        Type = type;
        Length = FrameHeader.Overhead + payloadSize;
        _bytes = ArrayPool<byte>.Shared.Rent(Length);
    }

    public FrameType Type { get; }

    /// <summary>Whole frame: header, payload and trailer.</summary>
    public int Length { get; }

    public Memory<byte> Payload => Bytes.AsMemory(FrameHeader.Size, Length - FrameHeader.Overhead);

    private byte[] Bytes => _bytes ?? throw new ObjectDisposedException(nameof(PreparedFrame));

    /// <summary>Checksums the filled payload; it must not change afterwards.</summary>
    public void Seal()
    {
        _payloadCrc = Crc32C.Append(Crc32C.Seed, Payload.Span);
        _sealed = true;
    }

    /// <summary>Writes the header and trailer (under the link's send lock) and returns the frame's bytes.</summary>
    internal ReadOnlyMemory<byte> Stamp(byte flags, ulong requestId, long senderClock)
    {
        if (!_sealed)
            throw new InvalidOperationException("A prepared frame is sealed before it is queued.");
        Span<byte> frame = Bytes.AsSpan(0, Length);
        new FrameHeader(Length, Type, flags, requestId, senderClock).Write(frame);
        Crc32C.Write(frame[(Length - FrameHeader.TrailerSize)..], FrameHeader.Checksum(frame, _payloadCrc));
        return Bytes.AsMemory(0, Length);
    }

    /// <summary>Gives the buffer back to the pool; only once the frame is no longer being sent.</summary>
    public void Return()
    {
        if (Interlocked.Exchange(ref _bytes, null) is { } bytes)
            ArrayPool<byte>.Shared.Return(bytes);
    }
}
