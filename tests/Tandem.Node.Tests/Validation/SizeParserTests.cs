using Tandem.Node.Validation;

namespace Tandem.Node.Tests.Validation;

public class SizeParserTests
{
    [Theory]
    [InlineData("1048576", 1048576L)]
    [InlineData("512b", 512L)]
    [InlineData("1K", 1024L)]
    [InlineData("1k", 1024L)]
    [InlineData("1KiB", 1024L)]
    [InlineData("1kib", 1024L)]
    [InlineData("10M", 10L << 20)]
    [InlineData("10MiB", 10L << 20)]
    [InlineData("1G", 1L << 30)]
    [InlineData("1 GiB", 1L << 30)]
    [InlineData("2T", 2L << 40)]
    [InlineData("2TiB", 2L << 40)]
    [InlineData("1KB", 1000L)]
    [InlineData("5MB", 5_000_000L)]
    [InlineData("3gb", 3_000_000_000L)]
    [InlineData("1TB", 1_000_000_000_000L)]
    [InlineData("  64m  ", 64L << 20)]
    public void Parses_bytes_and_units(string text, long expected)
    {
        Assert.True(SizeParser.TryParse(text, out var bytes, out var error), error);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("abc", "not a size")]
    [InlineData("12Q", "not a size")]
    [InlineData("1.5G", "not a size")]
    [InlineData("G", "not a size")]
    [InlineData("0x10", "not a size")]
    [InlineData("1e9", "not a size")]
    [InlineData("-1", "negative")]
    [InlineData("-5G", "negative")]
    [InlineData("0", "greater than zero")]
    [InlineData("0G", "greater than zero")]
    [InlineData("99999999999999999999", "too large")]
    [InlineData("9000000T", "too large")]
    [InlineData("16777216TiB", "too large")]
    public void Refuses_garbage_with_a_clear_error(string text, string expectedFragment)
    {
        Assert.False(SizeParser.TryParse(text, out _, out var error));
        Assert.Contains(expectedFragment, error);
    }

    [Fact]
    public void Parse_throws_FormatException_with_the_message()
    {
        var e = Assert.Throws<FormatException>(() => SizeParser.Parse("nope"));
        Assert.Contains("not a size", e.Message);
    }

    [Theory]
    [InlineData(512L, "512 B")]
    [InlineData(1L << 30, "1 GiB")]
    [InlineData((1L << 30) + (1L << 29), "1.5 GiB")]
    public void Formats_human_sizes(long bytes, string expected) => Assert.Equal(expected, SizeParser.Format(bytes));
}
