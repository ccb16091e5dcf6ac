using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tandem.Storage.Checksums;

/// <summary>
/// CRC32C (Castagnoli): the iSCSI header and data digest and the replication frame check (RFC 7143 §11.2.1, test vectors in
/// RFC 3720 appendix B.4). Uses the CPU's CRC32 instruction through <see cref="BitOperations"/>.
/// The digest travels least significant byte first.
/// </summary>
/// <remarks>
/// One CRC32 instruction takes three cycles but a new one can start every cycle, so a single
/// dependent chain uses a third of the unit. Longer inputs are therefore cut into chunks of three
/// equal lanes that are checksummed side by side and joined with <see cref="Crc32CShift"/>: the
/// register after lane A then lane B equals shift(A's register, |B|) xor B's register from zero,
/// because the register update is linear.
/// </remarks>
public static class Crc32C
{
    public const uint Seed = 0xFFFF_FFFF;

    private static readonly Crc32CShift LongLane = new(4096);
    private static readonly Crc32CShift ShortLane = new(256);

    /// <summary>Continues a running CRC (start with <see cref="Seed"/>).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            crc = AppendLanes(crc, ref data, LongLane);
            crc = AppendLanes(crc, ref data, ShortLane);
        }
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

    /// <summary>Consumes whole three-lane chunks of <paramref name="data"/> (little-endian hosts only).</summary>
    private static uint AppendLanes(uint crc, ref ReadOnlySpan<byte> data, Crc32CShift lane)
    {
        int laneBytes = lane.Bytes;
        int chunks = data.Length / (3 * laneBytes);
        if (chunks == 0)
            return crc;
        ref byte start = ref MemoryMarshal.GetReference(data);
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            ref byte a = ref Unsafe.Add(ref start, chunk * 3 * laneBytes);
            ref byte b = ref Unsafe.Add(ref a, laneBytes);
            ref byte c = ref Unsafe.Add(ref b, laneBytes);
            uint crcB = 0, crcC = 0;
            for (int i = 0; i < laneBytes; i += 8)
            {
                crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref a, i)));
                crcB = BitOperations.Crc32C(crcB, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, i)));
                crcC = BitOperations.Crc32C(crcC, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref c, i)));
            }
            crc = lane.Shift(lane.Shift(crc) ^ crcB) ^ crcC;
        }
        data = data[(chunks * 3 * laneBytes)..];
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
