using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Config;

public sealed class NodeConfigStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private static NodeConfig Sample() => new()
    {
        NodeName = "node1",
        Devices =
        [
            new DeviceConfig
            {
                Name = "disk1",
                Type = DeviceTypes.Image,
                HeaderPath = "/data/devices/disk1.tandem.json",
                Target = new TargetConfig
                {
                    Name = "iqn.2026-11.org.tandem:node1-disk1",
                    Alias = "disk1",
                    Acl = new AclConfig { Initiators = ["iqn.1993-08.org.debian:01:abc"], Networks = ["10.0.0.0/8"] },
                    Chap = new ChapConfig { User = "u", Secret = "secret-secret", MutualUser = "t", MutualSecret = "other-secret!" },
                },
            },
            new DeviceConfig
            {
                Name = "scratch",
                Type = DeviceTypes.Ram,
                Ram = new RamDeviceConfig { SizeBytes = 1 << 20, SectorSize = 4096, Naa = "6" + new string('a', 31), Serial = "AAAAAAAAAAAAAAAA" },
                Target = new TargetConfig { Name = "iqn.2026-11.org.tandem:node1-scratch" },
            },
        ],
        DiscoveryChap = new ChapConfig { User = "disc", Secret = "discovery-secret" },
    };

    [Fact]
    public void Missing_file_loads_as_null() => Assert.Null(new NodeConfigStore(_dir.Combine("node.json")).Load());

    [Fact]
    public void Round_trips_every_setting()
    {
        var store = new NodeConfigStore(_dir.Combine("node.json"));
        var config = Sample();
        store.Save(config);
        var loaded = store.Load()!;
        Assert.Equal(config.NodeName, loaded.NodeName);
        Assert.Equal(config.DiscoveryChap, loaded.DiscoveryChap);
        Assert.Equal(2, loaded.Devices.Count);
        Assert.Equal(config.Devices[0].HeaderPath, loaded.Devices[0].HeaderPath);
        Assert.Equal(config.Devices[0].Target.Chap, loaded.Devices[0].Target.Chap);
        Assert.Equal(config.Devices[0].Target.Acl.Initiators, loaded.Devices[0].Target.Acl.Initiators);
        Assert.Equal(config.Devices[0].Target.Acl.Networks, loaded.Devices[0].Target.Acl.Networks);
        Assert.Equal(config.Devices[1].Ram, loaded.Devices[1].Ram);
    }

    [Fact]
    public void Save_is_atomic_and_private()
    {
        var path = _dir.Combine("node.json");
        var store = new NodeConfigStore(path);
        store.Save(Sample());
        store.Save(Sample() with { NodeName = "node2" });
        Assert.Equal("node2", store.Load()!.NodeName);
        // Only the file itself: no temporary files left behind.
        Assert.Equal(["node.json"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{\"version\":1}")]
    [InlineData("{\"version\":99,\"nodeName\":\"n\"}")]
    [InlineData("{\"version\":1,\"nodeName\":\"Bad Name\"}")]
    [InlineData("{\"version\":1,\"nodeName\":\"n\",\"devices\":[{\"name\":\"a/b\",\"type\":\"image\",\"headerPath\":\"/x\",\"target\":{\"name\":\"iqn.2026-11.org.x:a\"}}]}")]
    [InlineData("{\"version\":1,\"nodeName\":\"n\",\"devices\":[{\"name\":\"a\",\"type\":\"floppy\",\"target\":{\"name\":\"iqn.2026-11.org.x:a\"}}]}")]
    [InlineData("{\"version\":1,\"nodeName\":\"n\",\"devices\":[{\"name\":\"a\",\"type\":\"ram\",\"target\":{\"name\":\"iqn.2026-11.org.x:a\"}}]}")]
    [InlineData("{\"version\":1,\"nodeName\":\"n\",\"devices\":[{\"name\":\"a\",\"type\":\"image\",\"headerPath\":\"/x\",\"target\":{\"name\":\"iqn.2026-11.org.x:a\",\"acl\":{\"networks\":[\"nonsense\"]}}}]}")]
    public void Corrupt_file_is_reported_by_name_and_never_overwritten(string content)
    {
        var path = _dir.Combine("node.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<TandemException>(() => new NodeConfigStore(path).Load());
        Assert.Equal(ErrorCodes.ConfigError, e.Code);
        Assert.Contains(path, e.Message);
        Assert.Equal(content, File.ReadAllText(path));
    }

    public void Dispose() => _dir.Dispose();
}
