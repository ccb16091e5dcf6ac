using System.Net;
using System.Net.Http.Json;
using Tandem.Node.Api.Models;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Api;

public class TargetApiTests
{
    private const string Target = "iqn.2026-11.org.tandem:testnode-disk";

    private static async Task<TestNode> NodeWithDeviceAsync()
    {
        var node = await TestNode.StartAsync();
        var response = await node.PostJsonAsync("api/v1/devices", new { name = "disk", sizeBytes = 1 << 20, provisioning = "thin" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return node;
    }

    [Fact]
    public async Task Lists_targets_with_default_allow_all()
    {
        await using var node = await NodeWithDeviceAsync();
        var target = Assert.Single(await TestNode.ReadAsync<TargetDto[]>(await node.Http.GetAsync("api/v1/targets")));
        Assert.Equal(Target, target.Name);
        Assert.Equal("disk", target.Device);
        Assert.Equal("disk", target.Alias);
        Assert.Equal(0, target.Lun);
        Assert.Empty(target.Acl.Initiators);
        Assert.Empty(target.Acl.Networks);
        Assert.False(target.Chap.Enabled);
        Assert.Equal(node.Node.IscsiPortals[0].ToString(), Assert.Single(target.Portals));
        var info = await TestNode.ReadAsync<NodeDto>(await node.Http.GetAsync("api/v1/node"));
        Assert.Contains(info.Warnings, w => w.Contains(Target));
    }

    [Fact]
    public async Task Acl_is_applied_persisted_and_cleared()
    {
        await using var node = await NodeWithDeviceAsync();
        var response = await node.PutJsonAsync($"api/v1/targets/{Target}/acl", new
        {
            initiators = new[] { "iqn.1993-08.org.debian:01:abc", "eui.0123456789ABCDEF" },
            networks = new[] { "127.0.0.0/8", "10.1.2.3" },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var target = await TestNode.ReadAsync<TargetDto>(response);
        Assert.Equal(["iqn.1993-08.org.debian:01:abc", "eui.0123456789ABCDEF"], target.Acl.Initiators);
        Assert.Equal(["127.0.0.0/8", "10.1.2.3/32"], target.Acl.Networks);

        Assert.True(node.Node.Devices.Catalog.TryGetTarget(Target, out var definition));
        Assert.Equal(2, definition.Access.AllowedInitiators.Count);
        Assert.Equal(2, definition.Access.AllowedNetworks.Count);
        Assert.Contains("10.1.2.3/32", File.ReadAllText(node.NodeConfigPath));

        // By device name too, for convenience.
        var cleared = await TestNode.ReadAsync<TargetDto>(await node.Http.DeleteAsync("api/v1/targets/disk/acl"));
        Assert.Empty(cleared.Acl.Initiators);
        Assert.Empty(definition.Access.AllowedInitiators);
        Assert.Empty(definition.Access.AllowedNetworks);
    }

    [Fact]
    public async Task Chap_is_applied_without_ever_returning_secrets()
    {
        await using var node = await NodeWithDeviceAsync();
        var response = await node.PutJsonAsync($"api/v1/targets/{Target}/chap", new
        {
            user = "initiator1",
            secret = "initiator-secret-1",
            mutualUser = "target1",
            mutualSecret = "target-secret-22",
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("initiator-secret-1", json);
        Assert.DoesNotContain("target-secret-22", json);
        var target = System.Text.Json.JsonSerializer.Deserialize<TargetDto>(json, Tandem.Node.Api.ApiJson.Options)!;
        Assert.True(target.Chap.Enabled);
        Assert.True(target.Chap.Mutual);
        Assert.Equal("initiator1", target.Chap.User);

        Assert.True(node.Node.Devices.Catalog.TryGetTarget(Target, out var definition));
        Assert.Equal(new("initiator1", "initiator-secret-1"), definition.Access.Chap);
        Assert.Equal(new("target1", "target-secret-22"), definition.Access.MutualChap);

        var list = await node.Http.GetStringAsync("api/v1/targets");
        Assert.DoesNotContain("secret-", list);

        var cleared = await TestNode.ReadAsync<TargetDto>(await node.Http.DeleteAsync($"api/v1/targets/{Target}/chap"));
        Assert.False(cleared.Chap.Enabled);
        Assert.Null(definition.Access.Chap);
        Assert.Null(definition.Access.MutualChap);
    }

    [Fact]
    public async Task Discovery_chap_is_set_and_cleared()
    {
        await using var node = await NodeWithDeviceAsync();
        var set = await node.PutJsonAsync("api/v1/discovery/chap", new { user = "disc", secret = "discovery-secret" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.True((await TestNode.ReadAsync<DiscoveryDto>(set)).Chap.Enabled);
        Assert.Equal(new("disc", "discovery-secret"), node.Node.Devices.Catalog.DiscoveryChap);
        Assert.True((await TestNode.ReadAsync<DiscoveryDto>(await node.Http.GetAsync("api/v1/discovery"))).Chap.Enabled);

        var cleared = await node.Http.DeleteAsync("api/v1/discovery/chap");
        Assert.False((await TestNode.ReadAsync<DiscoveryDto>(cleared)).Chap.Enabled);
        Assert.Null(node.Node.Devices.Catalog.DiscoveryChap);
    }

    [Fact]
    public async Task Bad_acl_and_chap_requests_change_nothing()
    {
        await using var node = await NodeWithDeviceAsync();
        var before = DirectorySnapshot.Take(node.DataDir);
        (string Method, string Path, string Body, HttpStatusCode Status, string Code)[] cases =
        [
            ("PUT", $"api/v1/targets/{Target}/acl", """{"initiators":["host1"]}""", HttpStatusCode.BadRequest, "invalid_name"),
            ("PUT", $"api/v1/targets/{Target}/acl", """{"initiators":["iqn.2026-11.org.X:Y"]}""", HttpStatusCode.BadRequest, "invalid_name"),
            ("PUT", $"api/v1/targets/{Target}/acl", """{"networks":["10.0.0.1/8"]}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/acl", """{"networks":["banana"]}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/acl", """{"networks":"10.0.0.0/8"}""", HttpStatusCode.BadRequest, "invalid_json"),
            ("PUT", $"api/v1/targets/{Target}/acl", """{"initiators":[null]}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", "api/v1/targets/iqn.2026-11.org.tandem:nope/acl", """{"networks":[]}""", HttpStatusCode.NotFound, "not_found"),
            ("PUT", $"api/v1/targets/{Target}/chap", """{"user":"u","secret":"short"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/chap", $$"""{"user":"u","secret":"{{new string('s', 256)}}"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/chap", """{"secret":"long-enough-secret"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/chap", """{"user":"u","secret":"long-enough-secret","mutualUser":"t","mutualSecret":"long-enough-secret"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/chap", """{"user":"u","secret":"long-enough-secret","mutualUser":"t"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/chap", """{"user":"u","secret":"long-enough-secret","mutualUser":"t","mutualSecret":"short"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", $"api/v1/targets/{Target}/chap", """{"user":"u","pass":"long-enough-secret"}""", HttpStatusCode.BadRequest, "invalid_json"),
            ("PUT", "api/v1/targets/nope/chap", """{"user":"u","secret":"long-enough-secret"}""", HttpStatusCode.NotFound, "not_found"),
            ("DELETE", "api/v1/targets/nope/chap", "", HttpStatusCode.NotFound, "not_found"),
            ("DELETE", "api/v1/targets/nope/acl", "", HttpStatusCode.NotFound, "not_found"),
            ("PUT", "api/v1/discovery/chap", """{"user":"u","secret":"long-enough-secret","mutualUser":"t","mutualSecret":"other-long-secret"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", "api/v1/discovery/chap", """{"user":"u","secret":"tiny"}""", HttpStatusCode.BadRequest, "invalid_argument"),
            ("PUT", "api/v1/discovery/chap", "{{", HttpStatusCode.BadRequest, "invalid_json"),
        ];
        foreach (var (method, path, body, status, code) in cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body.Length > 0)
                request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            var response = await node.Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(status == response.StatusCode, $"{method} {path} {body} => {(int)response.StatusCode} {text}");
            Assert.True(code == (await response.Content.ReadFromJsonAsync<ErrorResponse>(Tandem.Node.Api.ApiJson.Options))!.Error.Code, text);
        }

        Assert.Equal(before, DirectorySnapshot.Take(node.DataDir));
        Assert.True(node.Node.Devices.Catalog.TryGetTarget(Target, out var definition));
        Assert.Same(Tandem.Iscsi.Targets.TargetAccessPolicy.AllowAll, definition.Access);
        Assert.Null(node.Node.Devices.Catalog.DiscoveryChap);
    }

    [Fact]
    public async Task Sessions_list_is_empty_without_initiators()
    {
        await using var node = await NodeWithDeviceAsync();
        var response = await node.Http.GetAsync("api/v1/sessions");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await TestNode.ReadAsync<SessionDto[]>(response));
    }
}
