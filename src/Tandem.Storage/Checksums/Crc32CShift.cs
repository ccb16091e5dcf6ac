using System.Numerics;

namespace Tandem.Storage.Checksums;

/// <summary>
/// Advances a raw CRC32C register over a fixed number of zero bytes in four table lookups. The
/// map is linear over GF(2), so it is tabulated once from the 32 single-bit registers.
/// </summary>
internal sealed class Crc32CShift
{
    private readonly uint[] _table = new uint[4 * 256];

    public Crc32CShift(int bytes)
    {
        if (bytes <= 0 || bytes % 8 != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "A shift covers a positive multiple of 8 bytes.");
        Bytes = bytes;
        Span<uint> basis = stackalloc uint[32];
        for (int bit = 0; bit < 32; bit++)
        {
            uint register = 1u << bit;
            for (int i = 0; i < bytes; i += 8)
                register = BitOperations.Crc32C(register, 0UL);
            basis[bit] = register;
        }
        for (int position = 0; position < 4; position++)
        {
            for (int value = 0; value < 256; value++)
            {
                uint shifted = 0;
                for (int bit = 0; bit < 8; bit++)
                {
                    if ((value & (1 << bit)) != 0)
                        shifted ^= basis[position * 8 + bit];
                }
                _table[position * 256 + value] = shifted;
            }
        }
    }

    /// <summary>Zero bytes this shift advances over.</summary>
    public int Bytes { get; }

    /// <summary>The register after <see cref="Bytes"/> zero bytes, starting from <paramref name="register"/>.</summary>
    public uint Shift(uint register) =>
        _table[register & 0xFF] ^ _table[256 + ((register >> 8) & 0xFF)] ^ _table[512 + ((register >> 16) & 0xFF)] ^ _table[768 + (register >> 24)];
}
