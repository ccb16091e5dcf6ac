using System.Buffers.Binary;
using System.Numerics;

namespace Tandem.Storage.Checksums;

/// <summary>
/// CRC32C (Castagnoli): the iSCSI header and data digest and the replication frame check (RFC 7143 §11.2.1, test vectors in
/// RFC 3720 appendix B.4). Uses the CPU's CRC32 instruction through <see cref="BitOperations"/>.
/// The digest travels least significant byte first.
/// </summary>
public static class Crc32C
{
    public const uint Seed = 0xFFFF_FFFF;

    /// <summary>Continues a running CRC (start with <see cref="Seed"/>).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }
        foreach (byte b in data)
            crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    public static uint Finish(uint crc) => ~crc;

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Seed, data));

    /// <summary>Digest of <paramref name="data"/> followed by zero padding to a multiple of 4 bytes (iSCSI data segments).</summary>
    public static uint ComputePadded(ReadOnlySpan<byte> data)
    {
        uint crc = Append(Seed, data);
        int pad = -data.Length & 3;
        for (int i = 0; i < pad; i++)
            crc = BitOperations.Crc32C(crc, (byte)0);
        return Finish(crc);
    }

    public static void Write(Span<byte> destination, uint digest) => BinaryPrimitives.WriteUInt32LittleEndian(destination, digest);

    public static uint Read(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32LittleEndian(source);
}
