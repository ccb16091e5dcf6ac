using Tandem.Storage.Checksums;
using Tandem.Iscsi.Pdu;

namespace Tandem.Iscsi.Tests.Pdu;

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
}
