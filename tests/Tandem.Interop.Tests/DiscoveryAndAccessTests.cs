using System.Net;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>Discovery on several portals, CHAP (one-way and mutual) and initiator ACLs, with libiscsi's own tools.</summary>
[Collection(InteropCollection.Name)]
public sealed class DiscoveryAndAccessTests(ITestOutputHelper output)
{
    private const string Allowed = "iqn.2026-11.org.tandem.test:allowed";
    private const string Stranger = "iqn.2026-11.org.tandem.test:stranger";

    [Fact]
    public async Task SendTargets_ListsTargetOnEveryPortal()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"), [IPAddress.Parse("127.0.0.1"), IPAddress.Parse("127.0.0.2")]);
        var target = await CreateDeviceAsync(node, "disco");

        foreach (var address in node.PortalAddresses)
        {
            var ls = await ExternalTool.RunAsync("iscsi-ls", $"iscsi://{address}:{node.IscsiPort}");
            output.WriteLine(ls.ToString());
            Assert.Equal(0, ls.ExitCode);
            Assert.Contains($"Target:{target} Portal:127.0.0.1:{node.IscsiPort},1", ls.StdOut);
            Assert.Contains($"Target:{target} Portal:127.0.0.2:{node.IscsiPort},1", ls.StdOut);
        }
    }

    [Fact]
    public async Task OneWayChap_WrongSecretRefused_RightSecretAccepted()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var target = await CreateDeviceAsync(node, "chap1");
        await node.PutJsonAsync($"api/v1/targets/{target}/chap", new { user = "xen", secret = "correct-horse-battery" });

        Assert.NotEqual(0, (await Inquiry(node.LunUrl(target))).ExitCode);
        Assert.NotEqual(0, (await Inquiry(node.LunUrl(target, "xen%wrong-secret-12345"))).ExitCode);
        Assert.NotEqual(0, (await Inquiry(node.LunUrl(target, "other%correct-horse-battery"))).ExitCode);
        var ok = await Inquiry(node.LunUrl(target, "xen%correct-horse-battery"));
        Assert.True(ok.ExitCode == 0, ok.ToString());
    }

    [Fact]
    public async Task MutualChap_TargetMustProveItself()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var target = await CreateDeviceAsync(node, "chap2");
        await node.PutJsonAsync($"api/v1/targets/{target}/chap", new
        {
            user = "xen",
            secret = "correct-horse-battery",
            mutualUser = "tandem",
            mutualSecret = "target-secret-staple",
        });
        var url = node.LunUrl(target, "xen%correct-horse-battery");

        var right = await Inquiry(url, ("LIBISCSI_CHAP_TARGET_USERNAME", "tandem"), ("LIBISCSI_CHAP_TARGET_PASSWORD", "target-secret-staple"));
        Assert.True(right.ExitCode == 0, right.ToString());
        var wrong = await Inquiry(url, ("LIBISCSI_CHAP_TARGET_USERNAME", "tandem"), ("LIBISCSI_CHAP_TARGET_PASSWORD", "not-the-target-secret"));
        Assert.NotEqual(0, wrong.ExitCode);
    }

    [Fact]
    public async Task Acl_StrangerCannotLoginOrDiscover()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var target = await CreateDeviceAsync(node, "acl");
        await node.PutJsonAsync($"api/v1/targets/{target}/acl", new { initiators = new[] { Allowed }, networks = Array.Empty<string>() });

        var allowedLogin = await ExternalTool.RunAsync("iscsi-inq", "-i", Allowed, node.LunUrl(target));
        Assert.True(allowedLogin.ExitCode == 0, allowedLogin.ToString());
        var strangerLogin = await ExternalTool.RunAsync("iscsi-inq", "-i", Stranger, node.LunUrl(target));
        Assert.NotEqual(0, strangerLogin.ExitCode);

        var allowedDiscovery = await ExternalTool.RunAsync("iscsi-ls", "-i", Allowed, $"iscsi://{node.Portal}");
        Assert.Contains(target, allowedDiscovery.StdOut);
        var strangerDiscovery = await ExternalTool.RunAsync("iscsi-ls", "-i", Stranger, $"iscsi://{node.Portal}");
        Assert.DoesNotContain(target, strangerDiscovery.StdOut);
    }

    private static async Task<string> CreateDeviceAsync(TandemNode node, string name)
    {
        var device = await node.CreateDeviceAsync(new { name, type = "ram", sizeBytes = 64L << 20, sectorSize = 512 });
        return device.GetProperty("targetName").GetString()!;
    }

    private static Task<ToolResult> Inquiry(string url, params (string Key, string Value)[] environment) =>
        ExternalTool.RunAsync("iscsi-inq", [url], TimeSpan.FromMinutes(1), environment.ToDictionary(e => e.Key, e => e.Value));
}
