using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Cli;

public class ClientCommandTests
{
    [Fact]
    public async Task Device_workflow_with_tables_and_json()
    {
        await using var node = await TestNode.StartAsync();

        var create = await CliRunner.AgainstAsync(node, "device", "create", "--name", "disk1", "--size", "8MiB", "--provisioning", "thin");
        Assert.True(create.ExitCode == 0, create.Error);
        Assert.Contains("Created device disk1", create.Out);
        Assert.Contains("iqn.2026-11.org.tandem:testnode-disk1", create.Out);

        var ram = await CliRunner.AgainstAsync(node, "device", "create", "--name", "r", "--type", "ram", "--size", "4M", "--sector-size", "4096", "--json");
        Assert.Equal(0, ram.ExitCode);
        var ramDto = JsonSerializer.Deserialize<DeviceDto>(ram.Out, ApiJson.Options)!;
        Assert.Equal(4096, ramDto.SectorSize);
        Assert.Equal("ram", ramDto.Type);

        var list = await CliRunner.AgainstAsync(node, "device", "list");
        Assert.Equal(0, list.ExitCode);
        var lines = list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAME", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("disk1 ") && l.Contains("8 MiB") && l.Contains("thin"));
        // Columns are aligned: every row puts TYPE at the same offset.
        var typeColumn = lines[0].IndexOf("TYPE", StringComparison.Ordinal);
        Assert.All(lines.Skip(1), l => Assert.NotEqual(' ', l[typeColumn]));

        var listJson = await CliRunner.AgainstAsync(node, "device", "list", "--json");
        Assert.Equal(2, JsonSerializer.Deserialize<DeviceDto[]>(listJson.Out, ApiJson.Options)!.Length);

        var show = await CliRunner.AgainstAsync(node, "device", "show", "disk1");
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("NAA:", show.Out);

        var extend = await CliRunner.AgainstAsync(node, "device", "extend", "disk1", "--size", "16M");
        Assert.Equal(0, extend.ExitCode);
        Assert.Contains("16 MiB", extend.Out);

        var shrink = await CliRunner.AgainstAsync(node, "device", "extend", "disk1", "--size", "1M");
        Assert.Equal(1, shrink.ExitCode);
        Assert.Contains("(invalid_size)", shrink.Error);
        Assert.StartsWith("error: ", shrink.Error);

        var remove = await CliRunner.AgainstAsync(node, "device", "remove", "disk1");
        Assert.Equal(0, remove.ExitCode);
        Assert.Contains("kept", remove.Out);
        Assert.True(File.Exists(Path.Combine(node.DevicesDir, "disk1.img")));

        var missing = await CliRunner.AgainstAsync(node, "device", "show", "disk1");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("(not_found)", missing.Error);

        var again = await CliRunner.AgainstAsync(node, "device", "create", "--name", "disk1", "--size", "8MiB");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("(already_exists)", again.Error);

        Assert.Equal(0, (await CliRunner.AgainstAsync(node, "device", "remove", "r", "--delete-image")).ExitCode);
    }

    [Fact]
    public async Task Targets_acl_chap_sessions_and_node()
    {
        await using var node = await TestNode.StartAsync();
        Assert.Equal(0, (await CliRunner.AgainstAsync(node, "device", "create", "--name", "d", "--size", "1M", "--target-alias", "vol")).ExitCode);
        const string target = "iqn.2026-11.org.tandem:testnode-vol";

        var acl = await CliRunner.AgainstAsync(node, "acl", "set", "--target", target, "--initiator", "iqn.1993-08.org.debian:01:abc",
            "--network", "127.0.0.0/8", "--network", "10.0.0.0/8");
        Assert.True(acl.ExitCode == 0, acl.Error);
        Assert.True(node.Node.Devices.Catalog.TryGetTarget(target, out var definition));
        Assert.Equal(2, definition.Access.AllowedNetworks.Count);

        var badAcl = await CliRunner.AgainstAsync(node, "acl", "set", "--target", target, "--network", "10.0.0.1/8");
        Assert.Equal(1, badAcl.ExitCode);
        Assert.Contains("(invalid_argument)", badAcl.Error);

        var chap = await CliRunner.AgainstAsync(node, "chap", "set", "--target", target, "--user", "alice", "--secret", "alice-secret-123",
            "--mutual-user", "tgt", "--mutual-secret", "target-secret-456");
        Assert.True(chap.ExitCode == 0, chap.Error);
        Assert.Equal(new("alice", "alice-secret-123"), definition.Access.Chap);
        Assert.Equal(new("tgt", "target-secret-456"), definition.Access.MutualChap);

        var targets = await CliRunner.AgainstAsync(node, "target", "list");
        Assert.Equal(0, targets.ExitCode);
        Assert.Contains("mutual (alice)", targets.Out);
        Assert.DoesNotContain("alice-secret-123", targets.Out);

        var targetsJson = await CliRunner.AgainstAsync(node, "target", "list", "--json");
        var parsed = JsonSerializer.Deserialize<TargetDto[]>(targetsJson.Out, ApiJson.Options)!;
        Assert.True(Assert.Single(parsed).Chap.Mutual);

        Assert.Equal(0, (await CliRunner.AgainstAsync(node, "chap", "clear", "--target", target)).ExitCode);
        Assert.Null(definition.Access.Chap);
        Assert.Equal(0, (await CliRunner.AgainstAsync(node, "acl", "clear", "--target", "d")).ExitCode);
        Assert.Empty(definition.Access.AllowedNetworks);

        Assert.Equal(0, (await CliRunner.AgainstAsync(node, "chap", "discovery", "set", "--user", "disc", "--secret", "discovery-secret")).ExitCode);
        Assert.Equal(new("disc", "discovery-secret"), node.Node.Devices.Catalog.DiscoveryChap);
        Assert.Equal(0, (await CliRunner.AgainstAsync(node, "chap", "discovery", "clear")).ExitCode);
        Assert.Null(node.Node.Devices.Catalog.DiscoveryChap);

        var sessions = await CliRunner.AgainstAsync(node, "session", "list");
        Assert.Equal(0, sessions.ExitCode);
        Assert.Contains("No sessions", sessions.Out);
        Assert.Equal("[]", (await CliRunner.AgainstAsync(node, "session", "list", "--json")).Out.Trim());

        var status = await CliRunner.AgainstAsync(node, "status");
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("testnode", status.Out);
        var nodeJson = await CliRunner.AgainstAsync(node, "node", "show", "--json");
        Assert.Equal("testnode", JsonSerializer.Deserialize<NodeDto>(nodeJson.Out, ApiJson.Options)!.Name);
    }

    [Theory]
    [InlineData("device", "create", "--name", "x", "--size", "12Q")]
    [InlineData("device", "create", "--name", "x", "--size", "-1G")]
    [InlineData("device", "create", "--name", "x", "--size", "0")]
    [InlineData("device", "create", "--name", "x", "--size", "99999999999999999999")]
    [InlineData("device", "create", "--name", "x")]
    [InlineData("device", "create", "--size", "1G")]
    [InlineData("device", "create", "--name", "x", "--size", "1G", "--sector-size", "1024")]
    [InlineData("device", "create", "--name", "x", "--size", "1G", "--provisioning", "fat")]
    [InlineData("device", "create", "--name", "x", "--size", "1G", "--target-alias", "a", "--target-name", "iqn.2026-11.org.x:y")]
    [InlineData("device", "frobnicate")]
    [InlineData("device", "show")]
    [InlineData("nonsense")]
    [InlineData()]
    [InlineData("device", "list", "--server", "not an address")]
    [InlineData("chap", "set", "--target", "t", "--secret", "s")]
    public async Task Usage_errors_exit_2(params string[] args)
    {
        using var dir = new TempDirectory();
        var result = await CliRunner.RunAsync(dir.Path, args);
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Out} {result.Error}");
        Assert.Contains("error", result.Error);
    }

    [Fact]
    public async Task Unreachable_server_exits_3_naming_the_address()
    {
        using var dir = new TempDirectory();
        // A port nobody listens on: bind, note it, release it.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var result = await CliRunner.RunAsync(dir.Path, "device", "list", "--server", $"127.0.0.1:{port}");
        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"127.0.0.1:{port}", result.Error);
    }

    [Fact]
    public async Task Wrong_password_exits_1_with_unauthorized()
    {
        await using var node = await TestNode.StartAsync();
        using var dir = new TempDirectory();
        var result = await CliRunner.RunAsync(dir.Path, "device", "list", "--server", node.Node.ApiEndpoint.ToString(), "--password", "wrong");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("(unauthorized)", result.Error);
    }

    [Fact]
    public async Task Password_defaults_to_the_local_admin_secret()
    {
        // The node's data dir is <tmp>/data; running the CLI from a folder holding tandem-data/admin.secret works without --password.
        await using var node = await TestNode.StartAsync();
        using var cwd = new TempDirectory();
        Directory.CreateDirectory(cwd.Combine("tandem-data"));
        File.Copy(Path.Combine(node.DataDir, "admin.secret"), cwd.Combine("tandem-data", "admin.secret"));
        var result = await CliRunner.RunAsync(cwd.Path, "node", "show", "--server", node.Node.ApiEndpoint.ToString());
        Assert.True(result.ExitCode == 0, result.Error);
    }

    [Fact]
    public async Task Help_exits_0()
    {
        using var dir = new TempDirectory();
        var result = await CliRunner.RunAsync(dir.Path, "device", "create", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--size", result.Out);
    }
}
