using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tandem.Storage.Tests;

public sealed class DeviceHeaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static DeviceHeader Sample() => new()
    {
        Name = "vm-store",
        Type = DeviceType.Image,
        ImageFile = "vm-store.img",
        SizeBytes = 10L << 30,
        SectorSize = 512,
        Provisioning = Provisioning.Thin,
        Naa = "6001405a1b2c3d4e5f60718293a4b5c6",
        Serial = "TDM0001",
        TargetName = "iqn.2026-11.org.tandem:node1-vm-store",
        CreatedUtc = new DateTimeOffset(2026, 11, 3, 10, 20, 30, TimeSpan.Zero),
    };

    [Fact]
    public void Round_trips_through_a_file()
    {
        string path = DeviceHeader.GetHeaderPath(_dir.Path, "vm-store");
        Assert.EndsWith("vm-store.tandem.json", path);
        DeviceHeader header = Sample() with
        {
            Cache = new DeviceCacheSettings { L1Mode = CacheMode.WriteBack, L1SizeMiB = 512, L2Path = "/ssd/cache", L2SizeMiB = 4096 },
            Replication = new ReplicationHeader
            {
                ClusterId = "0c1e5c5e-51a4-4a7b-9a57-1b1c2f3a4d5e",
                LocalNodeId = 1,
                State = "synchronized",
                Generation = "0123456789abcdef",
                History = ["fedcba9876543210"],
                Nodes =
                [
                    new ReplicaNodeHeader { NodeId = 1, Api = "node1:3261", SyncChannels = ["198.18.0.1:3262"], State = "synchronized" },
                    new ReplicaNodeHeader { NodeId = 2, Api = "node2:3261", SyncChannels = ["198.18.0.2:3262"], State = "synchronized", Optimized = false },
                ],
            },
        };
        header.Save(path);

        DeviceHeader loaded = DeviceHeader.Load(path);
        Assert.Equal(header with { Replication = loaded.Replication }, loaded);
        Assert.Equal(JsonSerializer.Serialize(header.Replication), JsonSerializer.Serialize(loaded.Replication));
        Assert.Equal(Path.Combine(_dir.Path, "vm-store.img"), loaded.ResolveImagePath(path));
        Assert.Equal(["vm-store.tandem.json"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Json_is_camel_case_with_lower_case_enum_names()
    {
        string path = _dir.File("h.tandem.json");
        Sample().Save(path);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(1, (int)json["formatVersion"]!);
        Assert.Equal("vm-store", (string)json["name"]!);
        Assert.Equal("image", (string)json["type"]!);
        Assert.Equal("vm-store.img", (string)json["imageFile"]!);
        Assert.Equal(10L << 30, (long)json["sizeBytes"]!);
        Assert.Equal(512, (int)json["sectorSize"]!);
        Assert.Equal("thin", (string)json["provisioning"]!);
        Assert.Equal("6001405a1b2c3d4e5f60718293a4b5c6", (string)json["naa"]!);
        Assert.Equal("TDM0001", (string)json["serial"]!);
        Assert.Equal("iqn.2026-11.org.tandem:node1-vm-store", (string)json["targetName"]!);
        Assert.NotNull(json["createdUtc"]);
        var cache = json["cache"]!.AsObject();
        Assert.Equal("none", (string)cache["l1Mode"]!);
        Assert.Equal(0, (long)cache["l1SizeMiB"]!);
        Assert.Null(cache["l2Path"]);
        Assert.Equal(0, (long)cache["l2SizeMiB"]!);
        Assert.Null(json["replication"]);
    }

    [Fact]
    public void Ram_header_has_no_image()
    {
        string path = _dir.File("r.tandem.json");
        DeviceHeader ram = Sample() with { Type = DeviceType.Ram, ImageFile = null, Provisioning = Provisioning.Thick };
        ram.Save(path);
        DeviceHeader loaded = DeviceHeader.Load(path);
        Assert.Equal(DeviceType.Ram, loaded.Type);
        Assert.Null(loaded.ResolveImagePath(path));
    }

    private const string NodeExtras = ",\"nodeName\":\"\",\"heartbeatChannels\":[],\"optimized\":true,\"priority\":1";
    private const string GoodNodes =
        "[{\"nodeId\":1,\"api\":\"a:3261\",\"syncChannels\":[\"a:3262\"],\"state\":\"synchronized\"" + NodeExtras + "}," +
        "{\"nodeId\":2,\"api\":\"b:3261\",\"syncChannels\":[\"b:3262\"],\"state\":\"synchronized\"" + NodeExtras + "}]";

    private static string Replication(string clusterId = "\"0c1e5c5e-51a4-4a7b-9a57-1b1c2f3a4d5e\"", string localNodeId = "1",
        string state = "\"synchronized\"", string generation = "\"0123456789abcdef\"", string nodes = GoodNodes) =>
        $"{{\"clusterId\":{clusterId},\"localNodeId\":{localNodeId},\"state\":{state},\"generation\":{generation},\"history\":[],\"running\":false,\"nodes\":{nodes}}}";

    public static TheoryData<string, string, string> BadFields => new()
    {
        // property to change, its new raw JSON value ("<remove>" deletes it), text expected in the message
        { "formatVersion", "2", "newer Tandem" },
        { "formatVersion", "0", "formatVersion" },
        { "formatVersion", "\"1\"", "formatVersion" },
        { "formatVersion", "<remove>", "formatVersion" },
        { "name", "<remove>", "name" },
        { "name", "\"\"", "name" },
        { "name", "\"../evil\"", "name" },
        { "name", "null", "name" },
        { "type", "\"disk\"", "type" },
        { "type", "0", "type" },
        { "imageFile", "<remove>", "imageFile" },
        { "imageFile", "\"../other/x.img\"", "imageFile" },
        { "imageFile", "\"/etc/passwd\"", "imageFile" },
        { "sizeBytes", "-4096", "sizeBytes" },
        { "sizeBytes", "0", "sizeBytes" },
        { "sizeBytes", "1000", "sizeBytes" },
        { "sizeBytes", "\"lots\"", "sizeBytes" },
        { "sizeBytes", "<remove>", "sizeBytes" },
        { "sectorSize", "1024", "sectorSize" },
        { "sectorSize", "<remove>", "sectorSize" },
        { "provisioning", "\"sparse\"", "provisioning" },
        { "provisioning", "1", "provisioning" },
        { "provisioning", "<remove>", "provisioning" },
        { "naa", "\"6001405a\"", "naa" },
        { "naa", "\"5001405a1b2c3d4e5f60718293a4b5c6\"", "naa" },
        { "naa", "\"6001405a1b2c3d4e5f60718293a4b5cg\"", "naa" },
        { "naa", "<remove>", "naa" },
        { "serial", "\"\"", "serial" },
        { "serial", "\"tab\\there\"", "serial" },
        { "serial", "<remove>", "serial" },
        { "targetName", "\"\"", "targetName" },
        { "targetName", "\"iqn.with space\"", "targetName" },
        { "targetName", "<remove>", "targetName" },
        { "createdUtc", "\"yesterday\"", "createdUtc" },
        { "createdUtc", "<remove>", "createdUtc" },
        { "cache", "<remove>", "cache" },
        { "cache", "null", "cache" },
        { "cache", "{\"l1Mode\":\"turbo\",\"l1SizeMiB\":0,\"l2SizeMiB\":0}", "l1Mode" },
        { "cache", "{\"l1Mode\":\"none\",\"l1SizeMiB\":-1,\"l2SizeMiB\":0}", "l1SizeMiB" },
        { "cache", "{\"l1Mode\":\"none\",\"l1SizeMiB\":0,\"l2SizeMiB\":-5}", "l2SizeMiB" },
        { "cache", "{\"l1Mode\":\"none\",\"l1SizeMiB\":0,\"l2SizeMiB\":100}", "l2Path" },
        { "cache", "{\"l1Mode\":\"none\",\"l2SizeMiB\":0}", "l1SizeMiB" },
        { "replication", Replication(clusterId: "\"nope\""), "clusterId" },
        { "replication", Replication(localNodeId: "3"), "localNodeId" },
        { "replication", Replication(state: "\"maybe\""), "state" },
        { "replication", Replication(generation: "\"12\""), "generation" },
        { "replication", Replication(nodes: "[]"), "nodes" },
        { "replication", Replication(nodes: GoodNodes.Replace("\"nodeId\":2", "\"nodeId\":1")), "node id" },
        { "replication", Replication(nodes: GoodNodes.Replace("[\"b:3262\"]", "[]")), "sync channel" },
        { "replication", Replication(nodes: GoodNodes.Replace("\"api\":\"a:3261\",", "")), "api" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void Load_refuses_bad_fields(string property, string rawValue, string expectedInMessage)
    {
        string path = _dir.File("bad.tandem.json");
        Sample().Save(path);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (rawValue == "<remove>")
            json.Remove(property);
        else
            json[property] = JsonNode.Parse(rawValue);
        File.WriteAllText(path, json.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => DeviceHeader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.True(e.Message.Contains(expectedInMessage, StringComparison.OrdinalIgnoreCase), e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("{}")]
    [InlineData("{\"formatVersion\":1}")]
    public void Load_refuses_garbage(string content)
    {
        string path = _dir.File("g.tandem.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidDataException>(() => DeviceHeader.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Load_refuses_a_huge_file_and_reports_a_missing_one()
    {
        string path = _dir.File("huge.tandem.json");
        File.WriteAllBytes(path, new byte[DeviceHeader.MaxFileBytes + 1]);
        Assert.Throws<InvalidDataException>(() => DeviceHeader.Load(path));
        Assert.Throws<FileNotFoundException>(() => DeviceHeader.Load(_dir.File("missing.tandem.json")));
    }

    [Fact]
    public void Load_of_a_future_version_says_so()
    {
        string path = _dir.File("future.tandem.json");
        File.WriteAllText(path, "{\"formatVersion\": 7, \"somethingNew\": true}");
        var e = Assert.Throws<InvalidDataException>(() => DeviceHeader.Load(path));
        Assert.Contains("format version 7", e.Message);
    }

    [Fact]
    public void Save_refuses_an_invalid_header_and_keeps_the_old_file()
    {
        string path = _dir.File("s.tandem.json");
        Sample().Save(path);
        string before = File.ReadAllText(path);
        Assert.Throws<InvalidDataException>(() => (Sample() with { SizeBytes = 1000 }).Save(path));
        Assert.Throws<InvalidDataException>(() => (Sample() with { ImageFile = "a/b.img" }).Save(path));
        Assert.Equal(before, File.ReadAllText(path));
        Assert.Null(Sample().FindProblem());
    }
}
