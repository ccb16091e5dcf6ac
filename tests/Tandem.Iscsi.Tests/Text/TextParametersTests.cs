using System.Text;
using Tandem.Iscsi.Text;

namespace Tandem.Iscsi.Tests.Text;

public class TextParametersTests
{
    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void ParsesAndSerializesPairs()
    {
        var pairs = TextParameters.Parse(Ascii("InitiatorName=iqn.x:y\0HeaderDigest=CRC32C,None\0"));
        Assert.Equal(2, pairs.Count);
        Assert.Equal("InitiatorName", pairs[0].Key);
        Assert.Equal("CRC32C,None", pairs[1].Value);
        Assert.Equal(Ascii("InitiatorName=iqn.x:y\0HeaderDigest=CRC32C,None\0"), TextParameters.Serialize(pairs));
    }

    [Fact]
    public void EmptyValueAndMissingFinalNulAreAccepted()
    {
        var pairs = TextParameters.Parse(Ascii("SendTargets=\0X-a=b"));
        Assert.Equal("", pairs[0].Value);
        Assert.Equal("b", pairs[1].Value);
    }

    [Theory]
    [InlineData("NoEquals\0")]
    [InlineData("=value\0")]
    [InlineData("Key=1\0Key=2\0")]
    [InlineData("Bad Key=1\0")]
    public void MalformedTextIsRefused(string text) => Assert.Throws<FormatException>(() => TextParameters.Parse(Ascii(text)));

    [Fact]
    public void OverlongKeyAndControlCharactersAreRefused()
    {
        Assert.Throws<FormatException>(() => TextParameters.Parse(Ascii(new string('K', 64) + "=1\0")));
        Assert.Throws<FormatException>(() => TextParameters.Parse([(byte)'K', (byte)'=', 0x01, 0]));
        Assert.Throws<FormatException>(() => TextParameters.Parse(Ascii("K=" + new string('v', 9000))));
    }

    [Theory]
    [InlineData("262144", 262144UL)]
    [InlineData("0x40000", 262144UL)]
    [InlineData("0bAAQAAA==", 262144UL)]
    public void NumbersParse(string text, ulong value)
    {
        Assert.True(TextParameters.TryParseNumber(text, out ulong n));
        Assert.Equal(value, n);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("12a")]
    [InlineData("0x")]
    [InlineData("0b!!")]
    [InlineData("99999999999999999999999")]
    public void BadNumbersAreRefused(string text) => Assert.False(TextParameters.TryParseNumber(text, out _));

    [Fact]
    public void BinaryValuesParseHexAndBase64()
    {
        Assert.True(TextParameters.TryParseBinary("0x0aFF", out byte[] hex));
        Assert.Equal(new byte[] { 0x0A, 0xFF }, hex);
        Assert.True(TextParameters.TryParseBinary("0xabc", out byte[] odd));
        Assert.Equal(new byte[] { 0x0A, 0xBC }, odd);
        Assert.True(TextParameters.TryParseBinary("0bAQI=", out byte[] b64));
        Assert.Equal(new byte[] { 1, 2 }, b64);
        Assert.False(TextParameters.TryParseBinary("1234", out _));
        Assert.False(TextParameters.TryParseBinary("0xzz", out _));
    }
}
