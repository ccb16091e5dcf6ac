using System.Text.Json;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>The `tandem` CLI as an administrator runs it, against a real node process.</summary>
[Collection(InteropCollection.Name)]
public sealed class CliTests(ITestOutputHelper output)
{
    private static Task<ToolResult> Tandem(TandemNode node, params string[] arguments) =>
        ExternalTool.RunAsync("dotnet",
            [TandemNode.TandemDll, .. arguments, "--server", node.ApiEndPoint, "--password", TandemNode.AdminPassword],
            TimeSpan.FromMinutes(1));

    [Fact]
    public async Task DeviceLifecycle_TableAndJson()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));

        var create = await Tandem(node, "device", "create", "--name", "vm1", "--size", "64MiB", "--provisioning", "thin", "--json");
        Assert.True(create.ExitCode == 0, create.ToString());
        var created = JsonDocument.Parse(create.StdOut).RootElement;
        foreach (var field in new[] { "name", "type", "sizeBytes", "sectorSize", "provisioning", "targetName", "naa", "serial" })
            Assert.True(created.TryGetProperty(field, out _), $"device JSON lacks {field}: {create.StdOut}");
        Assert.Equal(64L << 20, created.GetProperty("sizeBytes").GetInt64());

        var list = await Tandem(node, "device", "list");
        output.WriteLine(list.StdOut);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("vm1", list.StdOut);

        var extend = await Tandem(node, "device", "extend", "vm1", "--size", "128MiB");
        Assert.True(extend.ExitCode == 0, extend.ToString());
        var show = await Tandem(node, "device", "show", "vm1", "--json");
        Assert.Equal(128L << 20, JsonDocument.Parse(show.StdOut).RootElement.GetProperty("sizeBytes").GetInt64());

        var remove = await Tandem(node, "device", "remove", "vm1");
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.DoesNotContain("vm1", (await Tandem(node, "device", "list")).StdOut);
    }

    [Theory]
    [InlineData("size not a multiple of the sector size", "--name", "odd", "--size", "1000001")]
    [InlineData("name with a slash", "--name", "a/b", "--size", "64MiB")]
    [InlineData("missing folder", "--name", "nofolder", "--size", "64MiB", "--location", "/nonexistent/tandem/folder")]
    [InlineData("garbage size", "--name", "garbage", "--size", "12 parsecs")]
    [InlineData("bad sector size", "--name", "sector", "--size", "64MiB", "--sector-size", "1024")]
    public async Task BadDeviceCreate_ClearError_NothingChanged(string why, params string[] arguments)
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var existing = await Tandem(node, "device", "create", "--name", "keep", "--size", "64MiB");
        Assert.True(existing.ExitCode == 0, existing.ToString());
        var before = Snapshot(node.DataDirectory);

        var result = await Tandem(node, ["device", "create", .. arguments]);
        output.WriteLine($"{why}: exit {result.ExitCode}: {result.StdErr.Trim()}");
        Assert.NotEqual(0, result.ExitCode);
        Assert.False(string.IsNullOrWhiteSpace(result.StdErr), "no error message");
        Assert.Equal(before, Snapshot(node.DataDirectory));
    }

    [Fact]
    public async Task DuplicateName_Refused_NothingChanged()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        Assert.Equal(0, (await Tandem(node, "device", "create", "--name", "dup", "--size", "64MiB")).ExitCode);
        var before = Snapshot(node.DataDirectory);

        var again = await Tandem(node, "device", "create", "--name", "dup", "--size", "128MiB");
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("dup", again.StdErr);
        Assert.Equal(before, Snapshot(node.DataDirectory));
    }

    [Fact]
    public async Task UnreachableServer_ClearMessage()
    {
        var port = FreePort.On(System.Net.IPAddress.Loopback);
        var result = await ExternalTool.RunAsync("dotnet", [TandemNode.TandemDll, "device", "list", "--server", $"127.0.0.1:{port}", "--password", "x"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"127.0.0.1:{port}", result.StdErr);
    }

    /// <summary>
    /// Every file under the data directory with its size and content hash; images (locked
    /// exclusively by the running node) with size and modification time instead.
    /// </summary>
    private static string Snapshot(string directory) =>
        string.Join('\n', Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(directory, f)} {new FileInfo(f).Length} " + (f.EndsWith(".img", StringComparison.Ordinal)
                ? File.GetLastWriteTimeUtc(f).Ticks.ToString()
                : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))))));
}
