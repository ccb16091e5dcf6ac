using System.Net;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;
using Tandem.Node.Tests.Cli;

namespace Tandem.Node.Tests.Witness;

/// <summary>tandem witness add | remove | list against a fake API: what is sent, what is printed, what is refused before sending.</summary>
public class WitnessCommandTests
{
    private const string PasswordVariable = "TANDEM_WITNESS_PASSWORD";

    private static ReplicaSetDto Set(string? witness) =>
        new("d1", "synchronized", [], new FailoverDto("node-majority", true, null, witness, false, null, []));

    [Theory]
    [InlineData("Give exactly one of --witness HOST:PORT (a witness node) or --witness-path DIR (a shared folder)", "add", "d1")]
    [InlineData("Give exactly one of --witness HOST:PORT", "add", "d1", "--witness", "10.0.0.9:3261", "--witness-path", "/mnt/w")]
    [InlineData("Required argument missing for command: 'add'", "add", "--witness", "10.0.0.9:3261")]
    [InlineData("--witness '10.0.0.9' has no port (expected HOST:PORT", "add", "d1", "--witness", "10.0.0.9")]
    [InlineData("'http' is not a TCP port (1-65535)", "add", "d1", "--witness", "10.0.0.9:http")]
    [InlineData("'0' is not a TCP port (1-65535)", "add", "d1", "--witness", "10.0.0.9:0")]
    [InlineData("'65536' is not a TCP port (1-65535)", "add", "d1", "--witness", "10.0.0.9:65536")]
    [InlineData("'bad host' is not a host name or address", "add", "d1", "--witness", "bad host:3261")]
    [InlineData("write IPv6 addresses in brackets", "add", "d1", "--witness", "fd00::9:3261")]
    [InlineData("--witness '': '' is not a host name or address", "add", "d1", "--witness", "")]
    [InlineData("--witness-path 'share/witness' is not an absolute path", "add", "d1", "--witness-path", "share/witness")]
    [InlineData("--witness-path '' is not an absolute path", "add", "d1", "--witness-path", "")]
    [InlineData("are for a witness node (--witness), not a shared folder", "add", "d1", "--witness-path", "/mnt/w", "--witness-password", "p")]
    [InlineData("are for a witness node (--witness), not a shared folder", "add", "d1", "--witness-path", "/mnt/w", "--witness-user", "admin")]
    [InlineData("Required argument missing for command: 'remove'", "remove")]
    [InlineData("Unrecognized command or argument 'd2'", "remove", "d1", "d2")]
    [InlineData("Unrecognized command or argument 'd1'", "list", "d1")]
    [InlineData("Unrecognized command or argument 'frobnicate'", "frobnicate")]
    public async Task Bad_arguments_exit_2_with_a_clear_error_and_send_nothing(string expected, params string[] args)
    {
        using var api = new FakeApi();
        var result = await api.RunAsync(["witness", .. args]);
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Out} {result.Error}");
        Assert.StartsWith("error: ", result.Error);
        Assert.Contains(expected, result.Error);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public async Task Add_a_witness_node_posts_address_and_credentials()
    {
        using var api = new FakeApi();
        api.Environment[PasswordVariable] = "from-env";
        api.Answer(HttpStatusCode.OK, Set("witness node 10.0.0.9:3261"));

        var result = await api.RunAsync("witness", "add", "d1", "--witness", " 10.0.0.9:3261 ", "--witness-user", "root");
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/v1/devices/d1/witness", request.Path);
        var body = JsonSerializer.Deserialize<AddWitnessRequest>(request.Body!, ApiJson.RequestOptions)!;
        Assert.Equal(new AddWitnessRequest { Address = "10.0.0.9:3261", WitnessUser = "root", WitnessPassword = "from-env" }, body);
        Assert.Equal(["Device d1 now has a witness node 10.0.0.9:3261.", "Failover: node-majority; witness: witness node 10.0.0.9:3261"], Lines(result.Out));

        var given = await api.RunAsync("witness", "add", "d1", "--witness", "[fd00::9]:3261", "--witness-password", "given");
        Assert.True(given.ExitCode == 0, given.Error);
        body = JsonSerializer.Deserialize<AddWitnessRequest>(api.Requests[1].Body!, ApiJson.RequestOptions)!;
        Assert.Equal(new AddWitnessRequest { Address = "[fd00::9]:3261", WitnessPassword = "given" }, body);

        // The help says where else the password can come from.
        var help = await api.RunAsync("witness", "add", "--help");
        Assert.True(help.ExitCode == 0 && help.Out.Contains(PasswordVariable) && help.Out.Contains("--witness-path"), help.Out);
        Assert.Equal(2, api.Requests.Count);
    }

    [Fact]
    public async Task Add_a_shared_folder_sends_only_the_path()
    {
        using var api = new FakeApi();
        api.Environment["TANDEM_WITNESS_PASSWORD"] = "not for folders";
        api.Answer(HttpStatusCode.OK, Set("file-share witness /mnt/witness"));

        var result = await api.RunAsync("witness", "add", "d1", "--witness-path", "/mnt/witness", "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        var body = JsonSerializer.Deserialize<AddWitnessRequest>(api.Single().Body!, ApiJson.RequestOptions)!;
        Assert.Equal(new AddWitnessRequest { Path = "/mnt/witness" }, body);
        Assert.Equal("file-share witness /mnt/witness", JsonSerializer.Deserialize<ReplicaSetDto>(result.Out, ApiJson.Options)!.Failover!.Witness);
    }

    [Fact]
    public async Task Add_refused_by_the_node_exits_1_with_its_message()
    {
        using var api = new FakeApi();
        api.AnswerError(HttpStatusCode.Conflict, "replica_state", "Device 'd1' has 3 data nodes; three data nodes need no witness (two of three are a majority).");
        var result = await api.RunAsync("witness", "add", "d1", "--witness", "10.0.0.9:3261");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: Device 'd1' has 3 data nodes; three data nodes need no witness (two of three are a majority). (replica_state)", result.Error.Trim());
    }

    [Fact]
    public async Task Remove_deletes_the_witness()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, Set(null));
        var result = await api.RunAsync("witness", "remove", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Delete, request.Method);
        Assert.Equal("/api/v1/devices/d1/witness", request.Path);
        Assert.Null(request.Body);
        Assert.Equal(["Device d1 has no witness any more.", "Failover: node-majority; witness: none"], Lines(result.Out));
    }

    [Fact]
    public async Task List_shows_the_witness_devices_of_a_witness_node()
    {
        using var api = new FakeApi();
        WitnessDeviceDto[] devices =
        [
            new("d1", "6a5d0e0123456789abcdef0123456789", 1, "1111111111111111", 1),
            new("web-02", "6a5d0e00000000000000000000000002", null, null, null),
        ];
        api.Answer(HttpStatusCode.OK, devices);

        var result = await api.RunAsync("witness", "list");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal("/api/v1/witness/devices", api.Single().Path);
        var lines = Lines(result.Out);
        Assert.Equal(["DEVICE", "NAA", "HOLDER", "GENERATION", "LAST-HOLDER"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^d1 +6a5d0e0123456789abcdef0123456789 +1 +1111111111111111 +1$", lines[1]);
        Assert.Matches(@"^web-02 +6a5d0e00000000000000000000000002 +- +- +-$", lines[2]);

        var json = await api.RunAsync("witness", "list", "--json");
        Assert.Equal(devices, JsonSerializer.Deserialize<WitnessDeviceDto[]>(json.Out, ApiJson.Options));

        api.Answer(HttpStatusCode.OK, Array.Empty<WitnessDeviceDto>());
        Assert.Contains("No witness devices.", (await api.RunAsync("witness", "list")).Out);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}
