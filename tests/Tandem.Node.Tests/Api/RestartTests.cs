using System.Net;
using Tandem.Node.Api.Models;
using Tandem.Node.Errors;
using Tandem.Node.Hosting;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Api;

public class RestartTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task Restart_restores_devices_identities_acl_and_chap_exactly()
    {
        await using var node = await TestNode.StartAsync();
        var image = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "img", sizeBytes = 4 * MiB, provisioning = "thin", sectorSize = 4096, targetAlias = "vol1" }));
        var ram = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "ram", type = "ram", sizeBytes = 2 * MiB }));
        await node.PutJsonAsync($"api/v1/targets/{image.TargetName}/acl", new { initiators = new[] { "iqn.1993-08.org.debian:01:abc" }, networks = new[] { "127.0.0.0/8" } });
        await node.PutJsonAsync($"api/v1/targets/{image.TargetName}/chap", new { user = "u1", secret = "secret-number-1", mutualUser = "t1", mutualSecret = "secret-number-2" });
        await node.PutJsonAsync($"api/v1/targets/{ram.TargetName}/chap", new { user = "u2", secret = "secret-number-3" });
        await node.PutJsonAsync("api/v1/discovery/chap", new { user = "d", secret = "discovery-secret" });
        await node.PostJsonAsync("api/v1/devices/img/extend", new { sizeBytes = 8 * MiB });

        // Data written to the image survives; the RAM disk comes back empty.
        var pattern = Enumerable.Repeat((byte)0xA5, 4096).ToArray();
        await node.Node.Devices.GetDevice("img").Device!.WriteAsync(1, pattern);
        await node.Node.Devices.GetDevice("ram").Device!.WriteAsync(0, pattern.AsMemory(0, 512));
        var targetsBefore = await node.Http.GetStringAsync("api/v1/targets");
        var devicesBefore = await TestNode.ReadAsync<DeviceDto[]>(await node.Http.GetAsync("api/v1/devices"));

        await node.RestartAsync();

        var devicesAfter = await TestNode.ReadAsync<DeviceDto[]>(await node.Http.GetAsync("api/v1/devices"));
        Assert.Equal(devicesBefore.Select(Identity), devicesAfter.Select(Identity));
        Assert.All(devicesAfter, d => Assert.Equal("online", d.State));
        Assert.Equal(8 * MiB, devicesAfter.Single(d => d.Name == "img").SizeBytes);
        Assert.Equal(targetsBefore.Replace(PortOf(targetsBefore), "PORT"),
            (await node.Http.GetStringAsync("api/v1/targets")).Replace(PortOf(await node.Http.GetStringAsync("api/v1/targets")), "PORT"));

        var read = new byte[4096];
        await node.Node.Devices.GetDevice("img").Device!.ReadAsync(1, read);
        Assert.Equal(pattern, read);
        var ramRead = new byte[512];
        await node.Node.Devices.GetDevice("ram").Device!.ReadAsync(0, ramRead);
        Assert.All(ramRead, b => Assert.Equal(0, b));

        Assert.True(node.Node.Devices.Catalog.TryGetTarget(image.TargetName, out var target));
        Assert.Equal(new("u1", "secret-number-1"), target.Access.Chap);
        Assert.Equal(new("t1", "secret-number-2"), target.Access.MutualChap);
        Assert.Equal(["iqn.1993-08.org.debian:01:abc"], target.Access.AllowedInitiators);
        Assert.Equal([System.Net.IPNetwork.Parse("127.0.0.0/8")], target.Access.AllowedNetworks);
        Assert.True(node.Node.Devices.Catalog.TryGetTarget(ram.TargetName, out var ramTarget));
        Assert.Equal(new("u2", "secret-number-3"), ramTarget.Access.Chap);
        Assert.Equal(new("d", "discovery-secret"), node.Node.Devices.Catalog.DiscoveryChap);
    }

    private static string Identity(DeviceDto d) => $"{d.Name}|{d.Type}|{d.Naa}|{d.Serial}|{d.TargetName}|{d.SectorSize}|{d.Provisioning}|{d.ImagePath}";

    private static string PortOf(string json)
    {
        var marker = "127.0.0.1:";
        var start = json.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var end = start;
        while (end < json.Length && char.IsAsciiDigit(json[end])) end++;
        return marker + json[start..end];
    }

    [Fact]
    public async Task A_corrupt_config_stops_the_start_and_is_left_alone()
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        Directory.CreateDirectory(data);
        var config = Path.Combine(data, "node.json");
        File.WriteAllText(config, "{ \"version\": 1, \"nodeName\": ");
        var e = await Assert.ThrowsAsync<TandemException>(() => TandemNode.StartAsync(TestNode.Options(data)));
        Assert.Equal(ErrorCodes.ConfigError, e.Code);
        Assert.Contains(config, e.Message);
        Assert.Equal("{ \"version\": 1, \"nodeName\": ", File.ReadAllText(config));
    }

    [Fact]
    public async Task A_corrupt_device_header_stops_the_start_and_is_left_alone()
    {
        await using var node = await TestNode.StartAsync();
        var device = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "hdr", sizeBytes = MiB, provisioning = "thin" }));
        await node.Node.StopAsync();
        File.WriteAllText(device.HeaderPath!, "{ \"formatVersion\": 1, \"name\": ");

        var e = await Assert.ThrowsAsync<TandemException>(() => TandemNode.StartAsync(TestNode.Options(node.DataDir)));
        Assert.Equal(ErrorCodes.ConfigError, e.Code);
        Assert.Contains(device.HeaderPath!, e.Message);
        Assert.Equal("{ \"formatVersion\": 1, \"name\": ", File.ReadAllText(device.HeaderPath!));
        Assert.Contains("hdr", File.ReadAllText(node.NodeConfigPath));
        // The image is not left locked by the failed start.
        using (File.Open(device.ImagePath!, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }

        // Fixing the header by hand lets the node start again (restored from a copy here).
        File.Delete(device.HeaderPath!);
        await node.RestartAsync();
        Assert.Equal("offline", (await TestNode.ReadAsync<DeviceDto>(await node.Http.GetAsync("api/v1/devices/hdr"))).State);
    }

    [Fact]
    public async Task A_device_whose_image_vanished_comes_back_offline_and_can_be_removed()
    {
        await using var node = await TestNode.StartAsync();
        var device = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "lost", sizeBytes = MiB, provisioning = "thin" }));
        await node.Node.StopAsync();
        File.Delete(device.ImagePath!);

        await node.RestartAsync();
        var shown = await TestNode.ReadAsync<DeviceDto>(await node.Http.GetAsync("api/v1/devices/lost"));
        Assert.Equal("offline", shown.State);
        Assert.Contains("lost.img", shown.Error);
        Assert.Equal(device.Naa, shown.Naa);
        Assert.False(node.Node.Devices.Catalog.TryGetTarget(device.TargetName, out _));
        var extend = await node.PostJsonAsync("api/v1/devices/lost/extend", new { sizeBytes = 2 * MiB });
        Assert.Equal(HttpStatusCode.Conflict, extend.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await node.Http.DeleteAsync("api/v1/devices/lost")).StatusCode);
        Assert.Empty(await TestNode.ReadAsync<DeviceDto[]>(await node.Http.GetAsync("api/v1/devices")));
    }

    [Fact]
    public async Task Api_bind_failure_names_the_address()
    {
        await using var first = await TestNode.StartAsync();
        using var dir = new TempDirectory();
        var apiClash = TestNode.Options(dir.Combine("b")) with { ApiEndpoint = first.Node.ApiEndpoint };
        var e = await Assert.ThrowsAsync<TandemException>(() => TandemNode.StartAsync(apiClash));
        Assert.Equal(ErrorCodes.BindFailed, e.Code);
        Assert.Contains(first.Node.ApiEndpoint.ToString(), e.Message);
        // The failed start released its iSCSI portal and devices: the first node still serves.
        Assert.Equal(HttpStatusCode.OK, (await first.Http.GetAsync("api/v1/node")).StatusCode);
    }

    [Fact]
    public async Task Iscsi_portal_bind_failure_names_the_address()
    {
        await using var first = await TestNode.StartAsync();
        using var dir = new TempDirectory();
        var iscsiClash = TestNode.Options(dir.Combine("a")) with { Portals = [first.Node.IscsiPortals[0]] };
        var e = await Assert.ThrowsAsync<TandemException>(() => TandemNode.StartAsync(iscsiClash));
        Assert.Equal(ErrorCodes.BindFailed, e.Code);
        Assert.Contains(first.Node.IscsiPortals[0].ToString(), e.Message);
    }

    [Fact]
    public async Task Invalid_options_are_refused_before_anything_is_written()
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        foreach (var options in new[]
                 {
                     TestNode.Options(data) with { IqnPrefix = "not-an-iqn" },
                     TestNode.Options(data) with { NodeName = "Bad Name" },
                     TestNode.Options(data) with { Vendor = "MUCH-TOO-LONG" },
                     TestNode.Options(data) with { Product = "" },
                     TestNode.Options(data) with { Portals = [] },
                 })
        {
            await Assert.ThrowsAsync<TandemException>(() => TandemNode.StartAsync(options));
        }

        Assert.False(Directory.Exists(data));
    }
}
