using System.Net;
using System.Text.Json;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// Two real nodes (127.0.0.1 and 127.0.0.2) with one two-way HA device, made with the CLI's
/// <c>replica add</c>: libiscsi's conformance suite through each node and through both as paths.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class HaTests(ITestOutputHelper output)
{
    internal static async Task<(TandemNode A, TandemNode B, string Target)> StartPairAsync(TempDirectory data, string name, long sizeBytes, ITestOutputHelper output)
    {
        var (nodes, target) = await StartSetAsync(data, name, sizeBytes, 2, output);
        return (nodes[0], nodes[1], target);
    }

    /// <summary>
    /// Starts <paramref name="count"/> nodes on 127.0.0.1, 127.0.0.2, ... and mirrors a new device of
    /// the first onto the others with <c>tandem replica add</c>; returns once every node is synchronized.
    /// </summary>
    internal static async Task<(TandemNode[] Nodes, string Target)> StartSetAsync(TempDirectory data, string name, long sizeBytes, int count,
        ITestOutputHelper output, int sectorSize = 512)
    {
        var nodes = new List<TandemNode>();
        try
        {
            for (int i = 0; i < count; i++)
                nodes.Add(await TandemNode.StartAsync(data.Combine($"n{i + 1}"), [IPAddress.Parse($"127.0.0.{i + 1}")], $"node-{(char)('a' + i)}"));
            var device = await nodes[0].CreateDeviceAsync(new { name, type = "image", sizeBytes, provisioning = "thick", sectorSize });
            var target = device.GetProperty("targetName").GetString()!;
            var arguments = new List<string> { TandemNode.TandemDll, "replica", "add", name };
            foreach (var partner in nodes.Skip(1))
                arguments.AddRange(["--partner", partner.ApiEndPoint]);
            arguments.AddRange(["--partner-password", TandemNode.AdminPassword, "--init", "synchronize",
                "--server", nodes[0].ApiEndPoint, "--password", TandemNode.AdminPassword]);
            var add = await ExternalTool.RunAsync("dotnet", arguments, TimeSpan.FromMinutes(2));
            output.WriteLine(add.StdOut);
            Assert.True(add.ExitCode == 0, $"replica add failed: {add}\n{string.Join("\n", nodes.Select(n => n.Log))}");
            await WaitSynchronizedAsync(nodes, name);
            return ([.. nodes], target);
        }
        catch
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
            throw;
        }
    }

    internal static Task WaitSynchronizedAsync(TandemNode a, TandemNode b, string name, int timeoutSeconds = 120) =>
        WaitSynchronizedAsync([a, b], name, timeoutSeconds);

    internal static async Task WaitSynchronizedAsync(IReadOnlyList<TandemNode> nodes, string name, int timeoutSeconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var sets = new List<JsonElement>();
            foreach (var node in nodes)
                sets.Add(await node.GetJsonAsync($"api/v1/devices/{name}/replicas"));
            last = string.Join("\n", sets);
            if (sets.All(AllSynchronized))
                return;
            await Task.Delay(200);
        }
        throw new TimeoutException($"replicas did not synchronize:\n{last}\nlogs:\n{string.Join("\n", nodes.Select(n => n.Log))}");
    }

    private static bool AllSynchronized(JsonElement set) =>
        set.GetProperty("state").GetString() == "synchronized" &&
        set.GetProperty("nodes").EnumerateArray().All(n => n.GetProperty("state").GetString() == "synchronized" &&
            n.GetProperty("aluaState").GetString()!.StartsWith("active"));

    [Fact]
    public async Task IscsiTestCu_through_each_node_and_both_paths_of_a_two_way_device()
    {
        using var data = new TempDirectory();
        var (a, b, target) = await StartPairAsync(data, "ha-cu", 256L << 20, output);
        await using (a)
        await using (b)
        {
            var pathA = a.LunUrl(target);
            var pathB = b.LunUrl(target);
            foreach (var paths in new[] { new[] { pathA, pathB }, new[] { pathB } })
            {
                var result = await ExternalTool.RunAsync("iscsi-test-cu", ["-d", "-n", .. paths], TimeSpan.FromMinutes(10));
                var summary = CUnitSummary.Parse(result.StdOut);
                output.WriteLine($"{string.Join(" ", paths)}: {summary}");
                if (summary.Failed > 0)
                    output.WriteLine(result.StdOut);
                Assert.True(summary.Ran >= 600, $"only {summary.Ran} tests ran\n{result}");
                if (paths.Length == 2)
                    Assert.DoesNotContain("Multipath unavailable", result.StdOut);
                Assert.True(summary.Failed == 0, $"{summary}\n\nA log:\n{a.Log}\nB log:\n{b.Log}");
            }

            var verify = await a.PostJsonAsync("api/v1/devices/ha-cu/verify", null);
            Assert.True(verify.GetProperty("identical").GetBoolean(), verify.ToString());

            // replica remove: A keeps serving the device, now plain; B's device is gone, its image kept.
            await RemoveReplicaAsync(a, "ha-cu", b);
            Assert.Equal("not-replicated", (await a.GetJsonAsync("api/v1/devices/ha-cu/replicas")).GetProperty("state").GetString());
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await b.Api.GetAsync("api/v1/devices/ha-cu")).StatusCode);
            Assert.Single(Directory.GetFiles(b.DataDirectory, "ha-cu.img", SearchOption.AllDirectories));
            await WriteSomeAsync(pathA);
        }
    }

    [Fact]
    public async Task IscsiTestCu_through_two_nodes_of_a_three_way_device()
    {
        using var data = new TempDirectory();
        var (nodes, target) = await StartSetAsync(data, "ha-cu3", 256L << 20, 3, output);
        try
        {
            var result = await ExternalTool.RunAsync("iscsi-test-cu", ["-d", "-n", nodes[1].LunUrl(target), nodes[2].LunUrl(target)], TimeSpan.FromMinutes(10));
            var summary = CUnitSummary.Parse(result.StdOut);
            output.WriteLine($"three-way, nodes 2 and 3: {summary}");
            if (summary.Failed > 0)
                output.WriteLine(result.StdOut);
            Assert.True(summary.Ran >= 600, $"only {summary.Ran} tests ran\n{result}");
            Assert.DoesNotContain("Multipath unavailable", result.StdOut);
            Assert.True(summary.Failed == 0, $"{summary}\n\nlogs:\n{string.Join("\n", nodes.Select(n => n.Log))}");
            var verify = await nodes[0].PostJsonAsync("api/v1/devices/ha-cu3/verify", null);
            Assert.True(verify.GetProperty("identical").GetBoolean(), verify.ToString());

            // replica remove on a three-way device: every remaining member drops the removed node.
            await RemoveReplicaAsync(nodes[0], "ha-cu3", nodes[2]);
            foreach (var remaining in nodes.Take(2))
            {
                var set = await remaining.GetJsonAsync("api/v1/devices/ha-cu3/replicas");
                Assert.True(set.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("nodeId").GetInt32()).SequenceEqual([1, 2]),
                    $"{set}\n{remaining.Log}");
            }
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await nodes[2].Api.GetAsync("api/v1/devices/ha-cu3")).StatusCode); // its image is kept
            Assert.Single(Directory.GetFiles(nodes[2].DataDirectory, "ha-cu3.img", SearchOption.AllDirectories));
            await WaitSynchronizedAsync(nodes[0], nodes[1], "ha-cu3", 30);
            await WriteSomeAsync(nodes[1].LunUrl(target));
            verify = await nodes[0].PostJsonAsync("api/v1/devices/ha-cu3/verify", null);
            Assert.True(verify.GetProperty("identical").GetBoolean(), verify.ToString());
            Assert.Equal([1, 2], verify.GetProperty("comparedNodes").EnumerateArray().Select(n => n.GetInt32()));
        }
        finally
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
        }
    }

    /// <summary><c>tandem replica remove</c> of <paramref name="partner"/>, run against <paramref name="server"/>.</summary>
    private static async Task RemoveReplicaAsync(TandemNode server, string device, TandemNode partner)
    {
        var remove = await ExternalTool.RunAsync("dotnet", [TandemNode.TandemDll, "replica", "remove", device, "--partner", partner.ApiEndPoint,
            "--server", server.ApiEndPoint, "--password", TandemNode.AdminPassword], TimeSpan.FromMinutes(1));
        Assert.True(remove.ExitCode == 0, remove.ToString());
    }

    /// <summary>200 writes of 4 KiB through one path (qemu-img bench).</summary>
    private static async Task WriteSomeAsync(string lunUrl)
    {
        var write = await ExternalTool.RunAsync("qemu-img", ["bench", "-f", "raw", "-w", "-c", "200", "-d", "4", "-s", "4096", "--pattern=9", lunUrl],
            TimeSpan.FromMinutes(1));
        Assert.True(write.ExitCode == 0, write.ToString());
    }

    [Fact]
    public async Task Logical_unit_identity_is_the_same_through_every_node_and_target_ports_differ()
    {
        using var data = new TempDirectory();
        var (a, b, target) = await StartPairAsync(data, "ha-id", 16L << 20, output);
        await using (a)
        await using (b)
        {
            var viaA = await IdentityAsync(a, target);
            var viaB = await IdentityAsync(b, target);
            Assert.Equal(viaA.Serial, viaB.Serial);
            Assert.Equal(viaA.UnitDesignators, viaB.UnitDesignators);
            Assert.NotEmpty(viaA.UnitDesignators);
            Assert.Equal((1, 1), (viaA.RelativePort, viaA.PortGroup));
            Assert.Equal((2, 2), (viaB.RelativePort, viaB.PortGroup));
        }
    }

    private static async Task<(string Serial, string[] UnitDesignators, int RelativePort, int PortGroup)> IdentityAsync(TandemNode node, string target)
    {
        await using var session = await RawInitiator.ConnectAsync(node.PortalAddresses[0].ToString(), node.IscsiPort);
        await session.LoginAsync("iqn.2026-11.org.tandem.test:identity", target);
        var serial = await session.ExecuteAsync(new byte[] { 0x12, 1, 0x80, 0, 255, 0 }, dataInLength: 255);
        var ids = await session.ExecuteAsync(new byte[] { 0x12, 1, 0x83, 0, 255, 0 }, dataInLength: 255);
        Assert.True(serial.IsGood && ids.IsGood, $"{serial} {ids}");
        string serialText = System.Text.Encoding.ASCII.GetString(serial.Data, 4, serial.Data[3]);
        var unit = new List<string>();
        int relative = -1, group = -1;
        int end = 4 + ((ids.Data[2] << 8) | ids.Data[3]);
        for (int at = 4; at + 4 <= end;)
        {
            int length = ids.Data[at + 3];
            int association = (ids.Data[at + 1] >> 4) & 3;
            int type = ids.Data[at + 1] & 0xF;
            var value = ids.Data.AsSpan(at + 4, length);
            if (association == 0)
                unit.Add($"{type}:{Convert.ToHexString(value)}");
            else if (association == 1 && type == 4)
                relative = (value[2] << 8) | value[3];
            else if (association == 1 && type == 5)
                group = (value[2] << 8) | value[3];
            at += 4 + length;
        }
        return (serialText, [.. unit], relative, group);
    }

    [Fact]
    public async Task Garbage_and_foreign_nodes_on_the_replication_port_are_refused_while_the_device_keeps_serving()
    {
        using var data = new TempDirectory();
        var (a, b, target) = await StartPairAsync(data, "ha-bad", 16L << 20, output);
        await using (a)
        await using (b)
        {
            await using var io = await VerifiedIoLoop.StartAsync(a, target, 512, 0, 4096);
            var port = new System.Net.IPEndPoint(IPAddress.Parse("127.0.0.2"), b.ReplicationPort);

            // Not a frame at all.
            using (var garbage = new System.Net.Sockets.TcpClient())
            {
                await garbage.ConnectAsync(port);
                await garbage.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
                var buffer = new byte[256];
                var read = await garbage.GetStream().ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15));
                Assert.True(read >= 0);
            }

            // A well-formed Hello from another cluster, for the right device and replica ids.
            using (var foreign = new System.Net.Sockets.TcpClient())
            {
                await foreign.ConnectAsync(port);
                var stream = foreign.GetStream();
                byte[] hello = new byte[4 + 16 + 4 + 4 + 32 + 16];
                hello[1] = (byte)Tandem.Replication.Links.Handshake.ProtocolVersion;
                Guid.NewGuid().TryWriteBytes(hello.AsSpan(4, 16), bigEndian: true, out _);
                hello[23] = 1; // sender replica 1
                hello[27] = 2; // receiver replica 2
                var naa = (await b.GetJsonAsync("api/v1/devices/ha-bad")).GetProperty("naa").GetString()!;
                Convert.FromHexString(naa).CopyTo(hello, 4 + 16 + 4 + 4 + 32);
                await stream.WriteAsync(Frame(1, hello));
                var reply = new byte[1024];
                int n = await stream.ReadAsync(reply).AsTask().WaitAsync(TimeSpan.FromSeconds(15));
                Assert.True(n >= 24 && reply[4] == 4, "expected a Reject frame"); // type 4 = Reject
                Assert.Contains("another cluster", System.Text.Encoding.UTF8.GetString(reply, 24, n - 28));
            }

            var before = io.Verified;
            await Task.Delay(500);
            Assert.True(io.Verified > before, "the initiator stopped making progress");
            var set = await a.GetJsonAsync("api/v1/devices/ha-bad/replicas");
            Assert.True(set.GetProperty("nodes")[1].GetProperty("connected").GetBoolean(), set.ToString());
            Assert.Equal("synchronized", set.GetProperty("nodes")[1].GetProperty("state").GetString());
            Assert.Contains("refused a link", b.Log);
            await io.StopAsync();
        }
    }

    [Fact]
    public async Task Extending_an_HA_device_grows_it_on_every_node()
    {
        using var data = new TempDirectory();
        var (a, b, _) = await StartPairAsync(data, "ha-grow", 16L << 20, output);
        await using (a)
        await using (b)
        {
            var grown = await a.PostJsonAsync("api/v1/devices/ha-grow/extend", new { sizeBytes = 32L << 20 });
            Assert.Equal(32L << 20, grown.GetProperty("sizeBytes").GetInt64());
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((await b.GetJsonAsync("api/v1/devices/ha-grow")).GetProperty("sizeBytes").GetInt64() != 32L << 20 && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.Equal(32L << 20, (await b.GetJsonAsync("api/v1/devices/ha-grow")).GetProperty("sizeBytes").GetInt64());
            var header = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(b.DataDirectory, "devices", "ha-grow.tandem.json")));
            Assert.Equal(32L << 20, header.RootElement.GetProperty("sizeBytes").GetInt64());
        }
    }

    /// <summary>A replication frame: 24-byte header, payload, CRC32C of payload then header (see docs/design/replication.md).</summary>
    private static byte[] Frame(byte type, byte[] payload)
    {
        byte[] frame = new byte[24 + payload.Length + 4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length);
        frame[4] = type;
        payload.CopyTo(frame, 24);
        // The check covers the payload first, then the header.
        uint crc = Tandem.Storage.Checksums.Crc32C.Append(Tandem.Storage.Checksums.Crc32C.Seed, payload);
        crc = Tandem.Storage.Checksums.Crc32C.Finish(Tandem.Storage.Checksums.Crc32C.Append(crc, frame.AsSpan(0, 24)));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(24 + payload.Length), crc);
        return frame;
    }
}
