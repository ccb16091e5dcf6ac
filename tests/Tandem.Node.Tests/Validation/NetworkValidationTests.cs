using System.Net;
using Tandem.Node.Errors;
using Tandem.Node.Validation;

namespace Tandem.Node.Tests.Validation;

public class NetworkValidationTests
{
    [Theory]
    [InlineData("127.0.0.0/8", "127.0.0.0/8")]
    [InlineData("10.1.2.0/24", "10.1.2.0/24")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("fd00::/8", "fd00::/8")]
    [InlineData("192.168.1.7", "192.168.1.7/32")]
    [InlineData("::1", "::1/128")]
    public void Parses_cidr_and_single_addresses(string text, string expected) =>
        Assert.Equal(IPNetwork.Parse(expected), Networks.Parse(text));

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("300.0.0.0/8")]
    [InlineData("net")]
    [InlineData("")]
    [InlineData("10.0.0.0/")]
    public void Refuses_invalid_networks(string text) =>
        Assert.Equal(ErrorCodes.InvalidArgument, Assert.Throws<TandemException>(() => Networks.Parse(text)).Code);
}
