using System.Numerics;
using Tandem.Storage.Checksums;

namespace Tandem.Storage.Tests.Checksums;

/// <summary>RFC 3720 appendix B.4 CRC32C examples (the bytes as they travel, least significant first).</summary>
public class Crc32CTests
{
    private static string Wire(uint digest)
    {
        var bytes = new byte[4];
        Crc32C.Write(bytes, digest);
        return Convert.ToHexStringLower(bytes);
    }

    [Fact]
    public void ThirtyTwoZeroBytes() => Assert.Equal("aa36918a", Wire(Crc32C.Compute(new byte[32])));

    [Fact]
    public void ThirtyTwoOnesBytes() => Assert.Equal("43aba862", Wire(Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray())));

    [Fact]
    public void IncrementingBytes() => Assert.Equal("4e79dd46", Wire(Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray())));

    [Fact]
    public void DecrementingBytes() => Assert.Equal("5cdb3f11", Wire(Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray())));

    [Fact]
    public void CatalogueCheckValue()
    {
        // CRC-32/ISCSI check value over "123456789" is 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }

    [Fact]
    public void AppendInPiecesMatchesOneShot()
    {
        byte[] data = Enumerable.Range(0, 1001).Select(i => (byte)(i * 7)).ToArray();
        uint crc = Crc32C.Seed;
        crc = Crc32C.Append(crc, data.AsSpan(0, 3));
        crc = Crc32C.Append(crc, data.AsSpan(3, 500));
        crc = Crc32C.Append(crc, data.AsSpan(503));
        Assert.Equal(Crc32C.Compute(data), Crc32C.Finish(crc));
    }

    [Fact]
    public void PaddedDigestCoversZeroPadding()
    {
        byte[] data = [1, 2, 3, 4, 5];
        Assert.Equal(Crc32C.Compute([1, 2, 3, 4, 5, 0, 0, 0]), Crc32C.ComputePadded(data));
    }

    /// <summary>
    /// The three-lane path must give what one byte at a time gives, for every length around the
    /// lane boundaries (256 B and 4 KiB lanes, chunks of three) and at unaligned starts.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void Lanes_match_the_bytewise_definition(int offset)
    {
        var random = new Random(20261125 + offset);
        byte[] data = new byte[3 * 4096 * 3 + 3 * 256 * 2 + 64 + offset];
        random.NextBytes(data);
        int[] lengths = [0, 1, 8, 767, 768, 769, 1536, 4095, 4096, 12287, 12288, 12289, 12288 + 768 + 5, 3 * 12288 + 2 * 768 + 64];
        foreach (int length in lengths)
        {
            var slice = data.AsSpan(offset, length);
            Assert.Equal(Bytewise(slice), Crc32C.Compute(slice));
        }
    }

    [Fact]
    public void One_mebibyte_in_uneven_pieces_matches_one_shot()
    {
        byte[] data = new byte[1 << 20];
        new Random(7).NextBytes(data);
        uint crc = Crc32C.Seed;
        int at = 0;
        foreach (int piece in new[] { 13, 12288, 100_000, 777, 1 << 19 })
        {
            crc = Crc32C.Append(crc, data.AsSpan(at, piece));
            at += piece;
        }
        crc = Crc32C.Append(crc, data.AsSpan(at));
        Assert.Equal(Bytewise(data), Crc32C.Finish(crc));
    }

    private static uint Bytewise(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C.Seed;
        foreach (byte b in data)
            crc = BitOperations.Crc32C(crc, b);
        return Crc32C.Finish(crc);
    }
}
