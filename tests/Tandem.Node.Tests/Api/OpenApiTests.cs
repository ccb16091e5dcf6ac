using System.Net;
using System.Text.Json;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Api;

public class OpenApiTests
{
    [Fact]
    public async Task Document_describes_every_route()
    {
        await using var node = await TestNode.StartAsync();
        using var anonymous = node.CreateClient(password: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("openapi/v1.json")).StatusCode);

        var response = await node.Http.GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var paths = doc.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).Order().ToArray();
        string[] expected =
        [
            "/api/v1/devices", "/api/v1/devices/{name}", "/api/v1/devices/{name}/extend", "/api/v1/discovery",
            "/api/v1/discovery/chap", "/api/v1/health", "/api/v1/node", "/api/v1/sessions", "/api/v1/targets",
            "/api/v1/targets/{name}", "/api/v1/targets/{name}/acl", "/api/v1/targets/{name}/chap",
            "/api/v1/devices/{name}/replicas", "/api/v1/devices/{name}/sync", "/api/v1/devices/{name}/mark-synchronized",
            "/api/v1/devices/{name}/verify", "/api/v1/cluster/join", "/api/v1/replication/partner-devices",
            "/api/v1/replication/partner-devices/{name}/members/{nodeId}",
            "/api/v1/devices/{name}/witness", "/api/v1/replication/partner-devices/{name}/witness", "/api/v1/witness/devices",
            "/api/v1/witness/devices/{naa}", "/api/v1/witness/devices/{naa}/vote", "/api/v1/witness/devices/{naa}/release",
        ];
        Assert.Equal(expected.Order(), paths);
    }
}
