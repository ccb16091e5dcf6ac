using System.Net;
using System.Text.Json;
using Tandem.Node.Api.Models;
using Tandem.Node.Config;
using Tandem.Node.Tests.Support;
using Tandem.Storage;

namespace Tandem.Node.Tests.Api;

public class DeviceApiTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task Create_list_show_extend_and_remove_an_image_device()
    {
        await using var node = await TestNode.StartAsync();

        var created = await node.PostJsonAsync("api/v1/devices", new { name = "disk1", sizeBytes = 8 * MiB, provisioning = "thin" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var device = await TestNode.ReadAsync<DeviceDto>(created);
        Assert.Equal("disk1", device.Name);
        Assert.Equal("image", device.Type);
        Assert.Equal("online", device.State);
        Assert.Equal(8 * MiB, device.SizeBytes);
        Assert.Equal(512, device.SectorSize);
        Assert.Equal("thin", device.Provisioning);
        Assert.Equal("iqn.2026-11.org.tandem:testnode-disk1", device.TargetName);
        Assert.Matches("^6[0-9a-f]{31}$", device.Naa);
        Assert.Matches("^[0-9A-F]{16}$", device.Serial);
        Assert.Equal(Path.Combine(node.DevicesDir, "disk1.img"), device.ImagePath);
        Assert.Equal(Path.Combine(node.DevicesDir, "disk1.tandem.json"), device.HeaderPath);
        Assert.Equal(node.DevicesDir, device.Location);
        Assert.Equal(0, device.Sessions);
        Assert.True(File.Exists(device.ImagePath));
        Assert.Equal(8 * MiB, new FileInfo(device.ImagePath!).Length);
        var header = DeviceHeader.Load(device.HeaderPath!);
        Assert.Equal(device.Naa, header.Naa);
        Assert.Equal(device.Serial, header.Serial);
        Assert.Equal(device.TargetName, header.TargetName);
        Assert.Contains("disk1", File.ReadAllText(node.NodeConfigPath));
        Assert.True(node.Node.Devices.Catalog.TryGetTarget(device.TargetName, out var target));
        Assert.Equal([0UL], target.Scsi.Luns);

        var list = await TestNode.ReadAsync<DeviceDto[]>(await node.Http.GetAsync("api/v1/devices"));
        Assert.Equal("disk1", Assert.Single(list).Name);

        var shown = await TestNode.ReadAsync<DeviceDto>(await node.Http.GetAsync("api/v1/devices/disk1"));
        Assert.Equal(device.Naa, shown.Naa);

        var extended = await node.PostJsonAsync("api/v1/devices/disk1/extend", new { sizeBytes = 16 * MiB });
        Assert.Equal(HttpStatusCode.OK, extended.StatusCode);
        Assert.Equal(16 * MiB, (await TestNode.ReadAsync<DeviceDto>(extended)).SizeBytes);
        Assert.Equal(16 * MiB, new FileInfo(device.ImagePath!).Length);
        Assert.Equal(16 * MiB, DeviceHeader.Load(device.HeaderPath!).SizeBytes);
        Assert.Equal(header.CreatedUtc, DeviceHeader.Load(device.HeaderPath!).CreatedUtc);

        var removed = await node.Http.DeleteAsync("api/v1/devices/disk1");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.False(node.Node.Devices.Catalog.TryGetTarget(device.TargetName, out _));
        Assert.Equal(HttpStatusCode.NotFound, (await node.Http.GetAsync("api/v1/devices/disk1")).StatusCode);
        Assert.DoesNotContain("disk1", File.ReadAllText(node.NodeConfigPath));
        // Removing never deletes the image unless asked.
        Assert.True(File.Exists(device.ImagePath));
        Assert.True(File.Exists(device.HeaderPath));
    }

    [Fact]
    public async Task Remove_with_deleteImage_deletes_image_and_header()
    {
        await using var node = await TestNode.StartAsync();
        var device = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "gone", sizeBytes = 2 * MiB, provisioning = "thick", sectorSize = 4096 }));
        Assert.Equal("thick", device.Provisioning);
        Assert.Equal(4096, device.SectorSize);
        Assert.True(device.AllocatedBytes >= 2 * MiB);
        Assert.Equal(HttpStatusCode.NoContent, (await node.Http.DeleteAsync("api/v1/devices/gone?deleteImage=true")).StatusCode);
        Assert.False(File.Exists(device.ImagePath));
        Assert.False(File.Exists(device.HeaderPath));
        Assert.Equal(HttpStatusCode.BadRequest, (await node.Http.DeleteAsync("api/v1/devices/gone?deleteImage=maybe")).StatusCode);
    }

    [Fact]
    public async Task Ram_devices_image_locations_and_explicit_target_names()
    {
        await using var node = await TestNode.StartAsync();
        using var elsewhere = new TempDirectory();

        var ram = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "scratch", type = "ram", sizeBytes = 4 * MiB, sectorSize = 4096, targetAlias = "fast" }));
        Assert.Equal("ram", ram.Type);
        Assert.Null(ram.ImagePath);
        Assert.Null(ram.Location);
        Assert.Equal("iqn.2026-11.org.tandem:testnode-fast", ram.TargetName);

        var placed = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "Web_01", sizeBytes = MiB, location = elsewhere.Path, provisioning = "thin" }));
        Assert.Equal(Path.Combine(elsewhere.Path, "Web_01.img"), placed.ImagePath);
        Assert.Equal("iqn.2026-11.org.tandem:testnode-web-01", placed.TargetName);

        var named = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "custom", sizeBytes = MiB, provisioning = "thin", targetName = "iqn.2001-04.com.example:storage.disk7" }));
        Assert.Equal("iqn.2001-04.com.example:storage.disk7", named.TargetName);

        var ramExtended = await node.PostJsonAsync("api/v1/devices/scratch/extend", new { sizeBytes = 8 * MiB });
        Assert.Equal(8 * MiB, (await TestNode.ReadAsync<DeviceDto>(ramExtended)).SizeBytes);

        var devices = await TestNode.ReadAsync<DeviceDto[]>(await node.Http.GetAsync("api/v1/devices"));
        Assert.Equal(3, devices.Select(d => d.Naa).Distinct().Count());
        Assert.Equal(3, devices.Select(d => d.Serial).Distinct().Count());

        await node.Http.DeleteAsync("api/v1/devices/Web_01?deleteImage=true");
        Assert.Empty(Directory.GetFiles(elsewhere.Path));
    }

    private static (string Body, HttpStatusCode Status, string Code)[] BadCreates(string takenLocation, string fileLocation) =>
    [
        ("""{"name":"a/b","sizeBytes":1048576}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"name":"../up","sizeBytes":1048576}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"sizeBytes":1048576}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"name":"","sizeBytes":1048576}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"name":"existing","sizeBytes":1048576}""", HttpStatusCode.Conflict, "already_exists"),
        ("""{"name":"EXISTING","sizeBytes":1048576}""", HttpStatusCode.Conflict, "already_exists"),
        ("""{"name":"other","sizeBytes":1048576,"targetAlias":"existing"}""", HttpStatusCode.Conflict, "already_exists"),
        ("""{"name":"other","sizeBytes":1048576,"targetName":"iqn.2026-11.org.tandem:testnode-existing"}""", HttpStatusCode.Conflict, "already_exists"),
        ("""{"name":"other","sizeBytes":1048577}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other","sizeBytes":1049088,"sectorSize":4096}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other","sizeBytes":524288}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other","sizeBytes":0}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other","sizeBytes":-1048576}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other"}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other","sizeBytes":2251799813685248}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("""{"name":"other","sizeBytes":1048576,"location":"/nonexistent/tandem/dir"}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ($$"""{"name":"other","sizeBytes":1048576,"location":{{JsonSerializer.Serialize(fileLocation)}}}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ($$"""{"name":"taken","sizeBytes":1048576,"location":{{JsonSerializer.Serialize(takenLocation)}}}""", HttpStatusCode.Conflict, "already_exists"),
        ("""{"name":"other","sizeBytes":1048576,"sectorSize":1024}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ("""{"name":"other","sizeBytes":1048576,"type":"floppy"}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ("""{"name":"other","sizeBytes":1048576,"provisioning":"fat"}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ("""{"name":"other","sizeBytes":1048576,"targetAlias":"x","targetName":"iqn.2026-11.org.x:y"}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ("""{"name":"other","sizeBytes":1048576,"targetName":"iqn.bad"}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"name":"other","sizeBytes":1048576,"targetName":"iqn.2026-11.org.x:UPPER"}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"name":"other","sizeBytes":1048576,"targetAlias":"Bad Alias"}""", HttpStatusCode.BadRequest, "invalid_name"),
        ("""{"name":"other","type":"ram","sizeBytes":1048576,"location":"/tmp"}""", HttpStatusCode.BadRequest, "invalid_argument"),
        ("""{"name":"other","type":"ram","sizeBytes":1125899906842624}""", HttpStatusCode.BadRequest, "invalid_size"),
        ("{", HttpStatusCode.BadRequest, "invalid_json"),
        ("", HttpStatusCode.BadRequest, "invalid_json"),
        ("null", HttpStatusCode.BadRequest, "invalid_json"),
        ("[]", HttpStatusCode.BadRequest, "invalid_json"),
        ("not json at all", HttpStatusCode.BadRequest, "invalid_json"),
        ("""{"name":"other","sizeBytes":"big"}""", HttpStatusCode.BadRequest, "invalid_json"),
        ("""{"name":"other","sizeBytes":1.5}""", HttpStatusCode.BadRequest, "invalid_json"),
        ("""{"name":"other","size":1048576}""", HttpStatusCode.BadRequest, "invalid_json"),
        ("""{"name":42,"sizeBytes":1048576}""", HttpStatusCode.BadRequest, "invalid_json"),
    ];

    [Fact]
    public async Task Every_bad_create_gets_its_code_and_changes_nothing()
    {
        await using var node = await TestNode.StartAsync();
        using var other = new TempDirectory();
        File.WriteAllText(other.Combine("taken.img"), "someone else's data");
        File.WriteAllText(other.Combine("plain-file"), "x");
        Assert.Equal(HttpStatusCode.Created,
            (await node.PostJsonAsync("api/v1/devices", new { name = "existing", sizeBytes = MiB, provisioning = "thin" })).StatusCode);

        var dataBefore = DirectorySnapshot.Take(node.DataDir);
        var otherBefore = DirectorySnapshot.Take(other.Path);
        foreach (var (body, status, code) in BadCreates(other.Path, other.Combine("plain-file")))
        {
            var response = await node.PostRawAsync("api/v1/devices", body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(status == response.StatusCode, $"{body} => {(int)response.StatusCode} {text}");
            var error = JsonSerializer.Deserialize<ErrorResponse>(text, Tandem.Node.Api.ApiJson.Options)!;
            Assert.True(code == error.Error.Code, $"{body} => {text}");
            Assert.False(string.IsNullOrWhiteSpace(error.Error.Message));
            Assert.Equal(dataBefore, DirectorySnapshot.Take(node.DataDir));
            Assert.Equal(otherBefore, DirectorySnapshot.Take(other.Path));
        }

        Assert.Single(node.Node.Devices.Devices);
        Assert.Single(node.Node.Devices.Catalog.Targets);
    }

    [Fact]
    public async Task Bad_extends_and_removes_change_nothing()
    {
        await using var node = await TestNode.StartAsync();
        await node.PostJsonAsync("api/v1/devices", new { name = "d", sizeBytes = 4 * MiB, provisioning = "thin", sectorSize = 4096 });
        var before = DirectorySnapshot.Take(node.DataDir);
        (string Path, string Body, HttpStatusCode Status, string Code)[] cases =
        [
            ("api/v1/devices/d/extend", """{"sizeBytes":2097152}""", HttpStatusCode.BadRequest, "invalid_size"),
            ("api/v1/devices/d/extend", """{"sizeBytes":4194304}""", HttpStatusCode.BadRequest, "invalid_size"),
            ("api/v1/devices/d/extend", """{"sizeBytes":4194816}""", HttpStatusCode.BadRequest, "invalid_size"),
            ("api/v1/devices/d/extend", """{"sizeBytes":-1}""", HttpStatusCode.BadRequest, "invalid_size"),
            ("api/v1/devices/d/extend", """{}""", HttpStatusCode.BadRequest, "invalid_size"),
            ("api/v1/devices/d/extend", """{"sizeBytes":""", HttpStatusCode.BadRequest, "invalid_json"),
            ("api/v1/devices/nope/extend", """{"sizeBytes":8388608}""", HttpStatusCode.NotFound, "not_found"),
        ];
        foreach (var (path, body, status, code) in cases)
        {
            var response = await node.PostRawAsync(path, body);
            Assert.True(status == response.StatusCode, $"{path} {body} => {(int)response.StatusCode}");
            Assert.Equal(code, (await TestNode.ReadAsync<ErrorResponse>(response)).Error.Code);
        }

        var missing = await node.Http.DeleteAsync("api/v1/devices/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", (await TestNode.ReadAsync<ErrorResponse>(missing)).Error.Code);
        Assert.Equal(before, DirectorySnapshot.Take(node.DataDir));
        Assert.Equal(4 * MiB, node.Node.Devices.GetDevice("d").SizeBytes);
    }

    [Fact]
    public async Task Concurrent_creates_all_land_in_the_configuration()
    {
        await using var node = await TestNode.StartAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            node.PostJsonAsync("api/v1/devices", new { name = $"c{i}", sizeBytes = MiB, provisioning = "thin" })));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var config = new NodeConfigStore(node.NodeConfigPath).Load()!;
        Assert.Equal(8, config.Devices.Count);
        Assert.Equal(8, node.Node.Devices.Catalog.Targets.Count);
    }
}
