using System.Net;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;

namespace Tandem.Node.Tests.Cli;

/// <summary>
/// tandem replica add | list | remove and device sync | mark-synchronized | verify, against a fake API:
/// what each command sends, how it prints the answer, and what it refuses before sending anything.
/// </summary>
public class ReplicaCommandTests
{
    private const long MiB = 1024 * 1024;

    private static ReplicaNodeDto Node(int id, bool local, string state = "synchronized", bool connected = true, long dirty = 0,
        SyncProgressDto? sync = null, string alua = "optimized", string aluaState = "active-optimized") =>
        new(id, local, $"node-{(char)('a' + id - 1)}", $"10.0.0.{id}:3261", [$"10.0.1.{id}:3262"], [$"10.0.2.{id}:3262"],
            state, alua, aluaState, id, connected, dirty, sync);

    private static readonly SyncProgressDto RunningSync = new("fast", 1, 2, 42.0, 42 * MiB, 100 * MiB, 180 * MiB, 11.4);

    private static ReplicaSetDto TwoNodes() =>
        new("d1", "synchronized", [Node(1, local: true), Node(2, local: false, state: "synchronizing", dirty: 58 * MiB, sync: RunningSync, aluaState: "transitioning")]);

    private static ReplicaSetDto ThreeNodes() =>
        new("d1", "synchronized",
        [
            Node(2, local: false, state: "synchronizing", dirty: 58 * MiB, sync: RunningSync),
            Node(1, local: true),
            Node(3, local: false, state: "not-synchronized", connected: false, dirty: 3 * MiB / 2, alua: "non-optimized", aluaState: "unavailable"),
        ]);

    [Theory]
    // replica add: partners
    [InlineData("replica", "add", "d1")]
    [InlineData("replica", "add", "--partner", "10.0.0.2:3261")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:0")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:65536")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:http")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:")]
    [InlineData("replica", "add", "d1", "--partner", ":3261")]
    [InlineData("replica", "add", "d1", "--partner", "bad host:3261")]
    [InlineData("replica", "add", "d1", "--partner", "fd00::2:3261")]
    [InlineData("replica", "add", "d1", "--partner", "[fd00::2]")]
    [InlineData("replica", "add", "d1", "--partner", "[fd00::2]3261")]
    [InlineData("replica", "add", "d1", "--partner", "[10.0.0.2]:3261")]
    [InlineData("replica", "add", "d1", "--partner", "[fd00::2:3261")]
    [InlineData("replica", "add", "d1", "--partner", "a:1", "--partner", "b:1", "--partner", "c:1")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--partner", "10.0.0.2:3261")]
    [InlineData("replica", "add", "d1", "--partner", "Node-B:3261", "--partner", "node-b:3261")]
    [InlineData("replica", "add", "d1", "--partner", "[fd00::2]:3261", "--partner", "[fd00:0::2]:3261")]
    // replica add: channels
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--sync-channel", "10.0.1.2:99999")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--sync-channel", "10.0.1.2:0")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--sync-channel", "not an address")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--sync-channel", "fd00::2")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--heartbeat-channel", "10.0.2.2:x")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--heartbeat-channel", "[fd00::2]:")]
    // replica add: other options
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--priority", "0")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--priority", "256")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--priority", "-1")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--priority", "high")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--init", "copy")]
    [InlineData("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--alua", "standby")]
    // replica list / remove
    [InlineData("replica", "list")]
    [InlineData("replica", "remove", "d1")]
    [InlineData("replica", "remove", "--partner", "2")]
    [InlineData("replica", "remove", "d1", "--partner", "0")]
    [InlineData("replica", "remove", "d1", "--partner", "4")]
    [InlineData("replica", "remove", "d1", "--partner", "99999999999")]
    [InlineData("replica", "remove", "d1", "--partner", "node-b")]
    [InlineData("replica", "remove", "d1", "--partner", "node-b:70000")]
    [InlineData("replica", "remove", "d1", "--partner", "")]
    [InlineData("replica", "frobnicate", "d1")]
    // device sync / mark-synchronized / verify
    [InlineData("device", "sync")]
    [InlineData("device", "sync", "d1", "--fast")]
    [InlineData("device", "mark-synchronized")]
    [InlineData("device", "verify")]
    [InlineData("device", "verify", "d1", "d2")]
    public async Task Usage_errors_exit_2_without_a_request(params string[] args)
    {
        using var api = new FakeApi();
        var result = await api.RunAsync(args);
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Out} {result.Error}");
        Assert.StartsWith("error: ", result.Error);
        Assert.Empty(api.Requests);
    }

    [Theory]
    [InlineData("10.0.0.2:0", "'0' is not a TCP port (1-65535)")]
    [InlineData("10.0.0.2", "has no port")]
    [InlineData("fd00::2:3261", "brackets")]
    [InlineData("bad host:3261", "is not a host name or address")]
    public async Task Partner_errors_say_what_is_wrong(string partner, string expected)
    {
        using var api = new FakeApi();
        var result = await api.RunAsync("replica", "add", "d1", "--partner", partner);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--partner", result.Error);
        Assert.Contains(expected, result.Error);
    }

    [Fact]
    public async Task Duplicate_and_extra_partners_and_bad_priority_have_clear_messages()
    {
        using var api = new FakeApi();
        var twice = await api.RunAsync("replica", "add", "d1", "--partner", "[fd00::2]:3261", "--partner", "[FD00:0::2]:3261");
        Assert.Contains("--partner '[FD00:0::2]:3261' is given twice", twice.Error);

        var three = await api.RunAsync("replica", "add", "d1", "--partner", "a:1", "--partner", "b:1", "--partner", "c:1");
        Assert.Contains("at most 2 partners", three.Error);

        var priority = await api.RunAsync("replica", "add", "d1", "--partner", "a:1", "--priority", "300");
        Assert.Contains("--priority '300' is not a priority from 1 (highest) to 255", priority.Error);

        var id = await api.RunAsync("replica", "remove", "d1", "--partner", "7");
        Assert.Contains("--partner '7' is not a replica id (1-3)", id.Error);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public async Task Add_posts_every_option_and_prints_the_set()
    {
        using var api = new FakeApi();
        api.Environment["TANDEM_PARTNER_PASSWORD"] = "from-env";
        api.Answer(HttpStatusCode.Created, TwoNodes());

        var result = await api.RunAsync("replica", "add", "d1",
            "--partner", "10.0.0.2:3261", "--partner", " [fd00::3]:3261 ",
            "--partner-location", "/srv/tandem", "--partner-user", "root",
            "--sync-channel", "10.0.1.2", "--sync-channel", "[fd00:1::3]:4000",
            "--heartbeat-channel", "10.0.2.2:3263",
            "--init", "none", "--alua", "non-optimized", "--priority", "2");
        Assert.True(result.ExitCode == 0, result.Error);

        var request = api.Single();
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/v1/devices/d1/replicas", request.Path);
        Assert.Equal("application/json", request.ContentType);
        // The node refuses unknown fields: the body must read with the API's strict request options.
        var body = JsonSerializer.Deserialize<AddReplicaRequest>(request.Body!, ApiJson.RequestOptions)!;
        Assert.Equal(["10.0.0.2:3261", "[fd00::3]:3261"], body.Partners);
        Assert.Equal("/srv/tandem", body.PartnerLocation);
        Assert.Equal("root", body.PartnerUser);
        Assert.Equal("from-env", body.PartnerPassword);
        Assert.Equal(["10.0.1.2", "[fd00:1::3]:4000"], body.SyncChannels);
        Assert.Equal(["10.0.2.2:3263"], body.HeartbeatChannels);
        Assert.Equal("none", body.Init);
        Assert.Equal("non-optimized", body.Alua);
        Assert.Equal(2, body.Priority);
        Assert.Contains("\"partners\":", request.Body);

        Assert.Contains("Added 2 partners to device d1.", result.Out);
        Assert.Contains("Device d1: synchronized", result.Out);
        Assert.Contains("tandem replica list d1", result.Out);
    }

    [Fact]
    public async Task Add_posts_the_failover_strategy_a_priority_per_partner_and_this_nodes_own()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.Created, TwoNodes());
        var result = await api.RunAsync("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--partner", "10.0.0.3:3261",
            "--failover", "node-majority", "--priority", "3", "--priority", "2", "--local-priority", "5", "--local-alua", "non-optimized");
        Assert.True(result.ExitCode == 0, result.Error);
        var body = JsonSerializer.Deserialize<AddReplicaRequest>(api.Single().Body!, ApiJson.RequestOptions)!;
        Assert.Equal("node-majority", body.Failover);
        Assert.Equal([3, 2], body.Priorities);
        Assert.Null(body.Priority);
        Assert.Equal(5, body.LocalPriority);
        Assert.Equal("non-optimized", body.LocalAlua);
    }

    [Fact]
    public async Task Add_posts_an_alua_preference_per_partner()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.Created, TwoNodes());
        var result = await api.RunAsync("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--partner", "10.0.0.3:3261",
            "--alua", "non-optimized", "--alua", "optimized");
        Assert.True(result.ExitCode == 0, result.Error);
        var body = JsonSerializer.Deserialize<AddReplicaRequest>(api.Single().Body!, ApiJson.RequestOptions)!;
        Assert.Equal(["non-optimized", "optimized"], body.AluaPerPartner);
        Assert.Null(body.Alua);
    }

    [Theory]
    [InlineData("--failover", "majority")]
    [InlineData("--local-priority", "0")]
    [InlineData("--local-alua", "standby")]
    public async Task Add_refuses_a_bad_failover_option_with_exit_2(string option, string value)
    {
        using var api = new FakeApi();
        var result = await api.RunAsync("replica", "add", "d1", "--partner", "10.0.0.2:3261", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(value, result.Error);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public async Task Add_refuses_a_priority_count_that_matches_neither_every_partner_nor_each()
    {
        using var api = new FakeApi();
        var result = await api.RunAsync("replica", "add", "d1", "--partner", "10.0.0.2:3261", "--partner", "10.0.0.3:3261",
            "--priority", "2", "--priority", "3", "--priority", "4");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("once per partner (2); got 3", result.Error);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public async Task List_shows_the_failover_strategy_the_witness_and_the_warnings()
    {
        using var api = new FakeApi();
        var set = TwoNodes() with
        {
            Failover = new FailoverDto("node-majority", false, "replica 2 is lost and the witness does not vote for this node", "witness node 10.0.0.9:3261",
                false, "the witness votes for replica 2", ["replica 2 has 0 heartbeat channel(s) independent of its sync channels"]),
        };
        api.Answer(HttpStatusCode.OK, set);
        var result = await api.RunAsync("replica", "list", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("Failover: node-majority, witness node 10.0.0.9:3261 (the witness votes for replica 2); this node does not serve I/O " +
                        "(replica 2 is lost and the witness does not vote for this node).", result.Out);
        Assert.Contains("Warning: replica 2 has 0 heartbeat channel(s)", result.Out);
    }

    [Fact]
    public async Task Add_sends_only_what_was_given_and_the_password_option_beats_the_environment()
    {
        using var api = new FakeApi();
        api.Environment["TANDEM_PARTNER_PASSWORD"] = "from-env";
        api.Answer(HttpStatusCode.Created, TwoNodes());

        var result = await api.RunAsync("replica", "add", "d1", "--partner", "node-b.example:3261", "--partner-password", "given");
        Assert.True(result.ExitCode == 0, result.Error);
        var body = JsonSerializer.Deserialize<AddReplicaRequest>(api.Single().Body!, ApiJson.RequestOptions)!;
        Assert.Equal(["node-b.example:3261"], body.Partners);
        Assert.Equal("given", body.PartnerPassword);
        Assert.Null(body.PartnerUser);
        Assert.Null(body.PartnerLocation);
        Assert.Null(body.SyncChannels);
        Assert.Null(body.HeartbeatChannels);
        Assert.Null(body.Init);
        Assert.Null(body.Alua);
        Assert.Null(body.Priority);
        Assert.Contains("Added 1 partner to device d1.", result.Out);
    }

    [Fact]
    public async Task Add_without_a_password_sends_none()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.Created, TwoNodes());
        var result = await api.RunAsync("replica", "add", "d1", "--partner", "10.0.0.2:3261");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Null(JsonSerializer.Deserialize<AddReplicaRequest>(api.Single().Body!, ApiJson.RequestOptions)!.PartnerPassword);
    }

    [Fact]
    public async Task List_two_nodes_with_a_running_sync()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, TwoNodes());

        var result = await api.RunAsync("replica", "list", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal("/api/v1/devices/d1/replicas", request.Path);
        Assert.Null(request.Body);

        var lines = Lines(result.Out);
        Assert.Equal("Device d1: synchronized", lines[0]);
        Assert.Equal(["ID", "NODE", "API", "STATE", "ALUA", "PRIO", "LINK", "HEARTBEAT", "DIRTY", "SYNC"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(4, lines.Length);
        Assert.Matches(@"^1 +node-a \(local\) +10\.0\.0\.1:3261 +synchronized +optimized/active-optimized +1 +- +- +- +-$", lines[2]);
        Assert.Matches(@"^2 +node-b +10\.0\.0\.2:3261 +synchronizing +optimized/transitioning +2 +up +0 up +58 MiB +fast 42\.0% 180 MiB/s ETA 12s \(1->2\)$", lines[3]);
        AssertAligned(lines.Skip(1).ToArray());
    }

    [Fact]
    public async Task List_three_nodes_sorted_by_id_with_link_down()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, ThreeNodes());

        var result = await api.RunAsync("replica", "list", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        var lines = Lines(result.Out);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("1 ", lines[2]);
        Assert.StartsWith("2 ", lines[3]);
        Assert.Contains("fast 42.0% 180 MiB/s ETA 12s (1->2)", lines[3]);
        Assert.Matches(@"^3 +node-c +10\.0\.0\.3:3261 +not-synchronized +non-optimized/unavailable +3 +down +0 up +1\.5 MiB +-$", lines[4]);
        AssertAligned(lines.Skip(1).ToArray());
    }

    [Fact]
    public async Task List_json_prints_the_api_document()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, ThreeNodes());

        var result = await api.RunAsync("replica", "list", "d1", "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("\"nodes\": [", result.Out);
        var set = JsonSerializer.Deserialize<ReplicaSetDto>(result.Out, ApiJson.Options)!;
        Assert.Equal("d1", set.Device);
        Assert.Equal(3, set.Nodes.Count);
        Assert.Equal(RunningSync, set.Nodes[0].Sync);
        Assert.Equal(["10.0.1.2:3262"], set.Nodes[0].SyncChannels);
        Assert.False(set.Nodes[2].Connected);
    }

    [Fact]
    public async Task List_of_a_device_on_this_node_only_says_so()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, new ReplicaSetDto("solo", "synchronized", [Node(1, local: true)]));
        var result = await api.RunAsync("replica", "list", "solo");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("Not replicated. Mirror it with: tandem replica add solo --partner HOST:PORT", result.Out);
    }

    [Fact]
    public async Task List_of_an_unknown_device_exits_1()
    {
        using var api = new FakeApi();
        api.AnswerError(HttpStatusCode.NotFound, "not_found", "Device 'nope' was not found.");
        var result = await api.RunAsync("replica", "list", "nope");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: Device 'nope' was not found. (not_found)", result.Error.Trim());
    }

    [Theory]
    [InlineData("10.0.0.2:3261", "10.0.0.2:3261")]
    [InlineData(" node-b:3261 ", "node-b:3261")]
    [InlineData("[fd00::2]:3261", "[fd00::2]:3261")]
    [InlineData("2", "2")]
    public async Task Remove_deletes_with_the_partner_in_the_query(string partner, string sent)
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, new ReplicaSetDto("d1", "synchronized", [Node(1, local: true)]));

        var result = await api.RunAsync("replica", "remove", "d1", "--partner", partner);
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Delete, request.Method);
        Assert.Equal("/api/v1/devices/d1/replicas", request.Path);
        Assert.Equal(sent, System.Web.HttpUtility.ParseQueryString(request.Query)["partner"]);
        Assert.Null(request.Body);
        Assert.Contains($"Removed partner {sent} from device d1.", result.Out);
        Assert.Contains("Device d1: synchronized", result.Out);
    }

    [Theory]
    [InlineData(false, "fast")]
    [InlineData(true, "full")]
    public async Task Device_sync_posts_full_or_not(bool full, string kind)
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.Accepted, TwoNodes());

        var result = await api.RunAsync(full ? ["device", "sync", "d1", "--full"] : ["device", "sync", "d1"]);
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/v1/devices/d1/sync", request.Path);
        Assert.Equal(full, JsonSerializer.Deserialize<SyncRequest>(request.Body!, ApiJson.RequestOptions)!.Full);
        Assert.Contains($"Started a {kind} synchronization of device d1.", result.Out);
        Assert.Contains("ETA 12s", result.Out);
    }

    [Fact]
    public async Task Device_mark_synchronized_posts_without_a_body()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, TwoNodes());

        var result = await api.RunAsync("device", "mark-synchronized", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/v1/devices/d1/mark-synchronized", request.Path);
        Assert.True(string.IsNullOrEmpty(request.Body));
        Assert.Contains("no data was copied", result.Out);

        var json = await api.RunAsync("device", "mark-synchronized", "d1", "--json");
        Assert.Equal(2, JsonSerializer.Deserialize<ReplicaSetDto>(json.Out, ApiJson.Options)!.Nodes.Count);
    }

    [Fact]
    public async Task Verify_of_identical_replicas_exits_0()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, new VerifyResultDto("d1", [1, 2], 1073741824, true, []));

        var result = await api.RunAsync("device", "verify", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        var request = api.Single();
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/v1/devices/d1/verify", request.Path);
        Assert.True(string.IsNullOrEmpty(request.Body));
        Assert.Equal("Replicas of d1 are identical (1073741824 bytes compared on nodes 1,2).", result.Out.Trim());
    }

    [Fact]
    public async Task Verify_with_differences_lists_them_and_exits_4()
    {
        using var api = new FakeApi();
        api.Answer(HttpStatusCode.OK, new VerifyResultDto("d1", [1, 2, 3], 1073741824, false,
            [new VerifyDifferenceDto(2, 1048576, 65536), new VerifyDifferenceDto(3, 5000, 3000)]));

        var result = await api.RunAsync("device", "verify", "d1");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal("", result.Error);
        var lines = Lines(result.Out);
        Assert.Equal("Replicas of d1 differ: 2 ranges, 66.93 KiB (68536 bytes); 1073741824 bytes compared on nodes 1,2,3.", lines[0]);
        Assert.Equal(["NODE", "OFFSET", "LENGTH"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^2 +1048576 \(1 MiB\) +65536 \(64 KiB\)$", lines[2]);
        Assert.Matches(@"^3 +5000 \(4\.88 KiB\) +3000 \(2\.93 KiB\)$", lines[3]);
        Assert.Contains("tandem device sync d1 --full", lines[4]);

        var json = await api.RunAsync("device", "verify", "d1", "--json");
        Assert.Equal(4, json.ExitCode);
        var parsed = JsonSerializer.Deserialize<VerifyResultDto>(json.Out, ApiJson.Options)!;
        Assert.False(parsed.Identical);
        Assert.Equal(2, parsed.Differences.Count);
    }

    [Fact]
    public async Task Verify_api_error_still_exits_1()
    {
        using var api = new FakeApi();
        api.AnswerError(HttpStatusCode.Conflict, "not_replicated", "Device 'd1' has no replicas.");
        var result = await api.RunAsync("device", "verify", "d1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("(not_replicated)", result.Error);
    }

    [Fact]
    public async Task Device_show_appends_the_replica_set_of_an_ha_device()
    {
        using var api = new FakeApi();
        var device = new DeviceDto("d1", "image", "online", null, 8 * MiB, 512, "thin", "iqn.2026-11.org.tandem:node-a-d1", null,
            "6" + new string('0', 31), "serial", "/data", "/data/d1.img", "/data/d1.hdr", 0, 0);
        api.Answer(HttpStatusCode.OK, device with { Replication = ThreeNodes() });

        var ha = await api.RunAsync("device", "show", "d1");
        Assert.True(ha.ExitCode == 0, ha.Error);
        Assert.Equal("/api/v1/devices/d1", api.Single().Path);
        var lines = Lines(ha.Out);
        var header = Array.FindIndex(lines, l => l == "Device d1: synchronized");
        Assert.True(header > 0, ha.Out);
        Assert.StartsWith("ID ", lines[header + 1]);
        Assert.Equal(header + 5, lines.Length);
        Assert.Contains("NAA:", ha.Out);

        api.Answer(HttpStatusCode.OK, device);
        var plain = await api.RunAsync("device", "show", "d1");
        Assert.True(plain.ExitCode == 0, plain.Error);
        Assert.DoesNotContain("Device d1:", plain.Out);
    }

    [Fact]
    public async Task Help_documents_the_partner_password_variable_and_the_verify_exit_code()
    {
        using var api = new FakeApi();
        var add = await api.RunAsync("replica", "add", "--help");
        Assert.Equal(0, add.ExitCode);
        Assert.Contains("TANDEM_PARTNER_PASSWORD", add.Out);
        Assert.Contains("--heartbeat-channel", add.Out);

        var verify = await api.RunAsync("device", "verify", "--help");
        Assert.Equal(0, verify.ExitCode);
        Assert.Contains("exit code 4", verify.Out);
        Assert.Empty(api.Requests);
    }

    [Theory]
    [InlineData(5.0, 0L, "full 42.0% ETA 5s (1->2)")]
    [InlineData(59.2, 1536L, "full 42.0% 1.5 KiB/s ETA 1m00s (1->2)")]
    [InlineData(185.0, 100 * MiB, "full 42.0% 100 MiB/s ETA 3m05s (1->2)")]
    [InlineData(7620.0, 100 * MiB, "full 42.0% 100 MiB/s ETA 2h07m (1->2)")]
    [InlineData(null, 0L, "full 42.0% (1->2)")]
    public async Task Sync_progress_is_short(double? eta, long rate, string expected)
    {
        using var api = new FakeApi();
        var sync = new SyncProgressDto("full", 1, 2, 41.96, 42 * MiB, 100 * MiB, rate, eta);
        api.Answer(HttpStatusCode.OK, new ReplicaSetDto("d1", "synchronized", [Node(1, local: true), Node(2, local: false, sync: sync)]));
        var result = await api.RunAsync("replica", "list", "d1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.EndsWith("  " + expected, Lines(result.Out)[3]);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary>Every column starts at the same offset in every row (the header gives the offsets).</summary>
    private static void AssertAligned(string[] tableLines)
    {
        var header = tableLines[0];
        var starts = Enumerable.Range(0, header.Length).Where(i => header[i] != ' ' && (i == 0 || header[i - 1] == ' ')).ToArray();
        foreach (var line in tableLines.Skip(1))
        {
            foreach (var start in starts)
            {
                Assert.True(line.Length > start && line[start] != ' ' && (start == 0 || line[start - 1] == ' '),
                    $"column at {start} misaligned in '{line}'");
            }
        }
    }
}
