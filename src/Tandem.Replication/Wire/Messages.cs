using System.Buffers.Binary;
using Tandem.Replication.Ordering;

namespace Tandem.Replication.Wire;

/// <summary>A stamped write: <c>u64 lamport | u32 node | u32 flags | u64 lba | data</c>.</summary>
public readonly record struct WriteMessage(Stamp Stamp, bool ForceUnitAccess, long Lba, ReadOnlyMemory<byte> Data) : IPayload
{
    public const int FixedSize = 24;
    private const uint FuaFlag = 1;

    public int PayloadSize => FixedSize + Data.Length;

    public void Write(Span<byte> payload)
    {
        WireStamp.Write(payload, Stamp);
        BinaryPrimitives.WriteUInt32BigEndian(payload[12..], ForceUnitAccess ? FuaFlag : 0);
        BinaryPrimitives.WriteInt64BigEndian(payload[16..], Lba);
        Data.Span.CopyTo(payload[FixedSize..]);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out WriteMessage message)
    {
        message = default;
        ReadOnlySpan<byte> p = payload.Span;
        if (p.Length < FixedSize || !WireStamp.TryRead(p, out Stamp stamp))
            return false;
        uint flags = BinaryPrimitives.ReadUInt32BigEndian(p[12..]);
        long lba = BinaryPrimitives.ReadInt64BigEndian(p[16..]);
        if ((flags & ~FuaFlag) != 0 || lba < 0)
            return false;
        message = new WriteMessage(stamp, (flags & FuaFlag) != 0, lba, payload[FixedSize..]);
        return true;
    }
}

/// <summary>A stamped deallocation: <c>u64 lamport | u32 node | u32 reserved | u64 lba | u64 blocks</c>.</summary>
public readonly record struct UnmapMessage(Stamp Stamp, long Lba, long BlockCount) : IPayload
{
    public const int Size = 32;

    public int PayloadSize => Size;

    public void Write(Span<byte> payload)
    {
        WireStamp.Write(payload, Stamp);
        BinaryPrimitives.WriteUInt32BigEndian(payload[12..], 0);
        BinaryPrimitives.WriteInt64BigEndian(payload[16..], Lba);
        BinaryPrimitives.WriteInt64BigEndian(payload[24..], BlockCount);
    }

    public static bool TryRead(ReadOnlySpan<byte> p, out UnmapMessage message)
    {
        message = default;
        if (p.Length != Size || !WireStamp.TryRead(p, out Stamp stamp))
            return false;
        long lba = BinaryPrimitives.ReadInt64BigEndian(p[16..]);
        long count = BinaryPrimitives.ReadInt64BigEndian(p[24..]);
        if (lba < 0 || count <= 0)
            return false;
        message = new UnmapMessage(stamp, lba, count);
        return true;
    }
}

/// <summary>A block range (<c>u64 lba | u64 blocks</c>): fences and checksum requests.</summary>
public readonly record struct RangeMessage(long Lba, long BlockCount) : IPayload
{
    public const int Size = 16;

    public int PayloadSize => Size;

    public void Write(Span<byte> payload)
    {
        BinaryPrimitives.WriteInt64BigEndian(payload, Lba);
        BinaryPrimitives.WriteInt64BigEndian(payload[8..], BlockCount);
    }

    public static bool TryRead(ReadOnlySpan<byte> p, out RangeMessage message)
    {
        message = default;
        if (p.Length != Size)
            return false;
        long lba = BinaryPrimitives.ReadInt64BigEndian(p);
        long count = BinaryPrimitives.ReadInt64BigEndian(p[8..]);
        if (lba < 0 || count <= 0)
            return false;
        message = new RangeMessage(lba, count);
        return true;
    }
}

/// <summary>Resynchronization data: <c>u64 lba | data</c>.</summary>
public readonly record struct SyncDataMessage(long Lba, ReadOnlyMemory<byte> Data) : IPayload
{
    public const int FixedSize = 8;

    public int PayloadSize => FixedSize + Data.Length;

    public void Write(Span<byte> payload)
    {
        BinaryPrimitives.WriteInt64BigEndian(payload, Lba);
        Data.Span.CopyTo(payload[FixedSize..]);
    }

    /// <summary>
    /// A SyncData frame to fill in place: its LBA is written; the caller reads the data into
    /// <see cref="PreparedFrame.Payload"/> from <see cref="FixedSize"/> on and seals the frame.
    /// </summary>
    public static PreparedFrame Prepare(long lba, int dataBytes)
    {
        var frame = new PreparedFrame(FrameType.SyncData, FixedSize + dataBytes);
        BinaryPrimitives.WriteInt64BigEndian(frame.Payload.Span, lba);
        return frame;
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out SyncDataMessage message)
    {
        message = default;
        if (payload.Length < FixedSize)
            return false;
        long lba = BinaryPrimitives.ReadInt64BigEndian(payload.Span);
        if (lba < 0)
            return false;
        message = new SyncDataMessage(lba, payload[FixedSize..]);
        return true;
    }
}

/// <summary>Reply payload prefix: <c>u32 status</c>, then request-specific bytes.</summary>
public static class ReplyMessage
{
    public const int FixedSize = 4;

    public static void Write(Span<byte> payload, ReplyStatus status, ReadOnlySpan<byte> body)
    {
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)status);
        body.CopyTo(payload[FixedSize..]);
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out ReplyStatus status)
    {
        status = default;
        if (payload.Length < FixedSize)
            return false;
        status = (ReplyStatus)BinaryPrimitives.ReadUInt32BigEndian(payload);
        return true;
    }
}

internal static class WireStamp
{
    public static void Write(Span<byte> destination, Stamp stamp)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, stamp.Lamport);
        BinaryPrimitives.WriteInt32BigEndian(destination[8..], stamp.NodeId);
    }

    public static bool TryRead(ReadOnlySpan<byte> source, out Stamp stamp)
    {
        long lamport = BinaryPrimitives.ReadInt64BigEndian(source);
        int node = BinaryPrimitives.ReadInt32BigEndian(source[8..]);
        stamp = new Stamp(lamport, node);
        return lamport > 0 && node is >= 1 and <= ReplicaLimits.MaxNodeId;
    }
}
