using System.Buffers.Binary;
using Tandem.Storage.Checksums;

namespace Tandem.Replication.Wire;

/// <summary>
/// The fixed header of every replication frame, big-endian:
/// <c>u32 length | u8 type | u8 flags | u16 reserved | u64 request id | u64 sender clock</c>,
/// followed by the payload and a CRC32C (<see cref="TrailerSize"/> bytes) computed over the payload
/// first and then the header. That order lets a sender checksum bulk data before the frame is
/// queued, when its request id and clock are not known yet (see <see cref="PreparedFrame"/>).
/// <c>length</c> counts the whole frame, header and trailer included.
/// </summary>
public readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, ulong RequestId, long SenderClock)
{
    public const int Size = 24;
    public const int TrailerSize = 4;
    public const int Overhead = Size + TrailerSize;

    /// <summary>Largest payload accepted (implementation limit; larger writes are split into several frames).</summary>
    public const int MaxPayload = 8 << 20;

    public int PayloadLength => Length - Overhead;

    /// <summary>The frame check: CRC32C of the payload, continued over the header bytes.</summary>
    public static uint Checksum(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) =>
        Checksum(header, Crc32C.Append(Crc32C.Seed, payload));

    /// <summary>The frame check from a running CRC of the payload (<see cref="Crc32C.Append"/> from the seed).</summary>
    public static uint Checksum(ReadOnlySpan<byte> header, uint payloadCrc) =>
        Crc32C.Finish(Crc32C.Append(payloadCrc, header[..Size]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, Length);
        destination[4] = (byte)Type;
        destination[5] = Flags;
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], RequestId);
        BinaryPrimitives.WriteInt64BigEndian(destination[16..], SenderClock);
    }

    /// <summary>Parses and checks a header; <paramref name="error"/> says what is wrong with a bad one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out FrameHeader header, out string? error)
    {
        header = default;
        if (source.Length < Size)
        {
            error = "truncated frame header";
            return false;
        }
        int length = BinaryPrimitives.ReadInt32BigEndian(source);
        var type = (FrameType)source[4];
        ushort reserved = BinaryPrimitives.ReadUInt16BigEndian(source[6..]);
        long clock = BinaryPrimitives.ReadInt64BigEndian(source[16..]);
        if (length < Overhead || length - Overhead > MaxPayload)
        {
            error = $"frame length {length} is outside {Overhead}..{Overhead + MaxPayload}";
            return false;
        }
        if (!Enum.IsDefined(type))
        {
            error = $"unknown frame type {(byte)type}";
            return false;
        }
        if (reserved != 0)
        {
            error = "reserved header field is not zero";
            return false;
        }
        if (clock < 0)
        {
            error = "negative sender clock";
            return false;
        }
        header = new FrameHeader(length, type, source[5], BinaryPrimitives.ReadUInt64BigEndian(source[8..]), clock);
        error = null;
        return true;
    }
}
