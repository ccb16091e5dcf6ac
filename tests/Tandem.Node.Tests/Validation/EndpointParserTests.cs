using System.Net;
using Tandem.Node.Errors;
using Tandem.Node.Hosting;

namespace Tandem.Node.Tests.Validation;

public class EndpointParserTests
{
    [Theory]
    [InlineData("127.0.0.1:3260", "127.0.0.1", 3260)]
    [InlineData("0.0.0.0:0", "0.0.0.0", 0)]
    [InlineData("[::1]:3261", "::1", 3261)]
    public void Parses_listen_addresses(string text, string address, int port) =>
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), EndpointParser.ParseListen(text, "--portal"));

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("localhost:3260")]
    [InlineData("::1:3260")]
    [InlineData("[::1]")]
    [InlineData(":3260")]
    public void Refuses_bad_listen_addresses(string text) =>
        Assert.Equal(ErrorCodes.InvalidArgument, Assert.Throws<TandemException>(() => EndpointParser.ParseListen(text, "--portal")).Code);

    [Fact]
    public void Server_addresses_may_be_host_names() =>
        Assert.Equal(("node1.example", 3261), EndpointParser.ParseHostPort("node1.example:3261", "--server"));
}
