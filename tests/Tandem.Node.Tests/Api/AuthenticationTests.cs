using System.Net;
using System.Text.Json;
using Tandem.Node.Api.Models;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Api;

public class AuthenticationTests
{
    [Fact]
    public async Task Health_needs_no_authentication()
    {
        await using var node = await TestNode.StartAsync();
        using var anonymous = node.CreateClient(password: null);
        var response = await anonymous.GetAsync("api/v1/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await TestNode.ReadAsync<HealthResponse>(response)).Status);
    }

    [Theory]
    [InlineData(null, "admin")]
    [InlineData("wrong-password", "admin")]
    [InlineData(TestNode.Password, "root")]
    [InlineData("", "admin")]
    public async Task Every_other_endpoint_requires_the_admin_password(string? password, string user)
    {
        await using var node = await TestNode.StartAsync();
        using var client = node.CreateClient(password, user);
        foreach (var path in new[] { "api/v1/node", "api/v1/devices", "api/v1/targets", "api/v1/sessions", "api/v1/devices/nope", "no/such/path" })
        {
            var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("Basic", response.Headers.WwwAuthenticate.ToString());
            var error = await TestNode.ReadAsync<ErrorResponse>(response);
            Assert.Equal("unauthorized", error.Error.Code);
        }

        var post = await client.PostAsync("api/v1/devices", new StringContent("{\"name\":\"x\",\"sizeBytes\":1048576}"));
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        Assert.Empty(Directory.GetFiles(node.DevicesDir));
    }

    [Fact]
    public async Task Malformed_authorization_headers_are_refused()
    {
        await using var node = await TestNode.StartAsync();
        using var client = node.CreateClient(password: null);
        foreach (var header in new[] { "Basic !!!notbase64", "Basic " + Convert.ToBase64String("nocolon"u8), "Bearer abc", "Basic" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/node");
            request.Headers.TryAddWithoutValidation("Authorization", header);
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task Node_endpoint_reports_bound_ports()
    {
        await using var node = await TestNode.StartAsync();
        var response = await node.Http.GetAsync("api/v1/node");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var info = await TestNode.ReadAsync<NodeDto>(response);
        Assert.Equal("testnode", info.Name);
        Assert.Equal("iqn.2026-11.org.tandem", info.IqnPrefix);
        var portal = Assert.Single(info.Portals);
        Assert.StartsWith("127.0.0.1:", portal);
        Assert.NotEqual("127.0.0.1:0", portal);
        Assert.Equal(node.Node.ApiEndpoint.ToString(), info.Api);
        Assert.NotEqual(0, node.Node.ApiEndpoint.Port);
    }

    [Fact]
    public async Task Unknown_routes_and_methods_get_json_errors()
    {
        await using var node = await TestNode.StartAsync();
        var missing = await node.Http.GetAsync("api/v1/nothing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", (await TestNode.ReadAsync<ErrorResponse>(missing)).Error.Code);

        var wrongMethod = await node.Http.PatchAsync("api/v1/devices", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        using var doc = JsonDocument.Parse(await wrongMethod.Content.ReadAsStringAsync());
        Assert.Equal("method_not_allowed", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
