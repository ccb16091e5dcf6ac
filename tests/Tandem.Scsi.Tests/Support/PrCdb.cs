using System.Buffers.Binary;
using System.Text;

namespace Tandem.Scsi.Tests.Support;

/// <summary>PERSISTENT RESERVE IN/OUT CDBs and parameter lists.</summary>
public static class PrCdb
{
    public const byte Register = 0, Reserve = 1, Release = 2, Clear = 3, Preempt = 4, PreemptAndAbort = 5, RegisterAndIgnore = 6, RegisterAndMove = 7;
    public const byte ReadKeys = 0, ReadReservation = 1, ReportCapabilities = 2, ReadFullStatus = 3;

    public static byte[] In(byte serviceAction, ushort allocation = 1024) =>
        [0x5E, serviceAction, 0, 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] Out(byte serviceAction, byte type, int parameterLength = 24) =>
        [0x5F, serviceAction, type, 0, 0, (byte)(parameterLength >> 24), (byte)(parameterLength >> 16), (byte)(parameterLength >> 8), (byte)parameterLength, 0];

    public static byte[] Parameters(ulong key, ulong serviceActionKey, bool aptpl = false, bool allTargetPorts = false, bool specIpt = false, byte[]? transportIds = null)
    {
        var data = new byte[24 + (transportIds is null ? 0 : 4 + transportIds.Length)];
        BinaryPrimitives.WriteUInt64BigEndian(data, key);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8), serviceActionKey);
        data[20] = (byte)((specIpt ? 0x08 : 0) | (allTargetPorts ? 0x04 : 0) | (aptpl ? 0x01 : 0));
        if (transportIds is not null)
        {
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(24), (uint)transportIds.Length);
            transportIds.CopyTo(data, 28);
        }
        return data;
    }

    public static byte[] MoveParameters(ulong key, ulong serviceActionKey, ushort relativePort, byte[] transportId, bool unregister = false)
    {
        var data = new byte[24 + transportId.Length];
        BinaryPrimitives.WriteUInt64BigEndian(data, key);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8), serviceActionKey);
        data[17] = (byte)(unregister ? 0x02 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(18), relativePort);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(20), (uint)transportId.Length);
        transportId.CopyTo(data, 24);
        return data;
    }

    /// <summary>iSCSI TransportID, format 00 (name) or 01 (name + ISID).</summary>
    public static byte[] TransportId(string name, ulong? isid = null)
    {
        string text = isid is ulong i ? $"{name},i,0x{i:x12}" : name;
        int length = Math.Max(20, (Encoding.UTF8.GetByteCount(text) + 1 + 3) & ~3);
        var data = new byte[4 + length];
        data[0] = (byte)((isid is null ? 0 : 0x40) | 0x05);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), (ushort)length);
        Encoding.UTF8.GetBytes(text, data.AsSpan(4));
        return data;
    }

    public static List<ulong> Keys(byte[] data)
    {
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4));
        return Enumerable.Range(0, length / 8).Select(i => BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(8 + 8 * i))).ToList();
    }

    public static uint Generation(byte[] data) => BinaryPrimitives.ReadUInt32BigEndian(data);
}
