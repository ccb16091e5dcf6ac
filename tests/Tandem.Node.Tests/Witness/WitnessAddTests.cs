using System.Net;
using System.Net.Sockets;
using Tandem.Node.Api.Models;
using Tandem.Node.HighAvailability;
using Tandem.Node.Tests.Support;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Storage;
using static Tandem.Node.Tests.Witness.WitnessApiTests;

namespace Tandem.Node.Tests.Witness;

/// <summary>witness add / remove on two data nodes and a witness node, all real, on loopback.</summary>
public class WitnessAddTests
{
    private const string WitnessPath = "api/v1/devices/d1/witness";

    [Fact]
    public async Task Add_with_a_witness_node_joins_it_creates_its_witness_device_and_tells_the_partner()
    {
        await using var lab = await WitnessLab.StartAsync();
        string naa = await lab.CreateHaDeviceAsync("d1");

        var response = await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Address = lab.WitnessAddress, WitnessPassword = TestNode.Password });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var set = await TestNode.ReadAsync<ReplicaSetDto>(response);
        Assert.Equal("d1", set.Device);
        Assert.Equal(ReplicationHeader.NodeMajorityFailover, set.Failover!.Strategy);

        var expected = new WitnessHeader { Address = lab.WitnessAddress };
        Assert.Equal([expected], lab.AppliedOnA);
        Assert.Equal([expected], lab.AppliedOnB);
        Assert.Equal(lab.Cluster.ClusterId.ToString(), (await TestNode.ReadAsync<NodeDto>(await lab.W.Http.GetAsync("api/v1/node"))).ClusterId);
        Assert.Equal(new WitnessDeviceDto("d1", naa, null, null, null), Assert.Single(lab.W.Node.Witnesses.List()));

        // What the data nodes will do: ask for the vote as the cluster.
        await using (var witness = WitnessFactory.Create(expected, naa, lab.Cluster.SecretBase64, null))
            Assert.Equal(WitnessVerdict.Granted, (await witness.RequestVoteAsync(new(1, "0123456789abcdef", [], "0123456789abcdef"), default)).Verdict);

        // Again (e.g. to repair a partner that missed it): the witness node is already in the cluster, no password needed.
        var again = await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Address = lab.WitnessAddress });
        Assert.True(again.StatusCode == HttpStatusCode.OK, await again.Content.ReadAsStringAsync());
        Assert.Equal([expected, expected], lab.AppliedOnB);
        Assert.Equal(1, Assert.Single(lab.W.Node.Witnesses.List()).Holder);
    }

    [Fact]
    public async Task Add_with_a_shared_folder_probes_it_on_both_nodes()
    {
        await using var lab = await WitnessLab.StartAsync();
        await lab.CreateHaDeviceAsync("d1");
        using var share = new TempDirectory();

        var response = await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Path = share.Path });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal([new WitnessHeader { Path = share.Path }], lab.AppliedOnA);
        Assert.Equal([new WitnessHeader { Path = share.Path }], lab.AppliedOnB);
        // The probe files are gone; what is left is the device's lease folder that witness add provisions.
        Assert.Equal([Path.Combine(share.Path, "tandem-witness-")], Directory.EnumerateFileSystemEntries(share.Path).Select(e => e[..^32]));

        await AssertErrorAsync(await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Path = share.Combine("missing") }),
            HttpStatusCode.BadRequest, "invalid_argument", "is not a folder on node");
        await AssertErrorAsync(await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Path = "relative/dir" }),
            HttpStatusCode.BadRequest, "invalid_argument", "is not an absolute path");
        Assert.Single(lab.AppliedOnA);
    }

    [Fact]
    public async Task Add_refuses_what_cannot_have_that_witness_and_changes_nothing()
    {
        await using var lab = await WitnessLab.StartAsync();
        await lab.CreateHaDeviceAsync("d1");
        await lab.CreateHaDeviceAsync("hb", ReplicationHeader.HeartbeatFailover);
        await lab.CreateHaDeviceAsync("old", failover: null);
        await lab.CreateHaDeviceAsync("three", extraMember: true);
        Assert.Equal(HttpStatusCode.Created, (await lab.A.PostJsonAsync("api/v1/devices", new { name = "plain", type = "ram", sizeBytes = 1 << 20 })).StatusCode);
        var witness = new AddWitnessRequest { Address = lab.WitnessAddress, WitnessPassword = TestNode.Password };

        async Task Refused(string device, AddWitnessRequest request, HttpStatusCode status, string code, string message) =>
            await AssertErrorAsync(await lab.A.PostJsonAsync($"api/v1/devices/{device}/witness", request), status, code, message);

        await Refused("nope", witness, HttpStatusCode.NotFound, "not_found", "Device 'nope'");
        await Refused("plain", witness, HttpStatusCode.Conflict, "replica_state", "is not an HA device");
        await Refused("hb", witness, HttpStatusCode.Conflict, "replica_state", "uses heartbeat failover; only node-majority devices");
        await Refused("old", witness, HttpStatusCode.Conflict, "replica_state", "uses heartbeat failover");
        await Refused("three", witness, HttpStatusCode.Conflict, "replica_state", "three data nodes need no witness");
        await Refused("d1", new AddWitnessRequest(), HttpStatusCode.BadRequest, "invalid_argument", "Give exactly one of address");
        await Refused("d1", witness with { Path = "/tmp" }, HttpStatusCode.BadRequest, "invalid_argument", "Give exactly one of address");
        await Refused("d1", new AddWitnessRequest { Path = "/tmp", WitnessUser = "admin" }, HttpStatusCode.BadRequest, "invalid_argument",
            "witnessUser and witnessPassword are for a witness node");
        await Refused("d1", witness with { Address = "bad host:1" }, HttpStatusCode.BadRequest, "invalid_argument", "is not a host name or address");
        await Refused("d1", witness with { Address = "127.0.0.1" }, HttpStatusCode.BadRequest, "invalid_argument", "is not ADDRESS:PORT");
        await Refused("d1", witness with { Address = lab.B.Node.ApiEndpoint.ToString() }, HttpStatusCode.BadRequest, "invalid_argument",
            "is replica 2 of this device; a witness must be a third node");
        await Refused("d1", witness with { Address = lab.A.Node.ApiEndpoint.ToString() }, HttpStatusCode.BadRequest, "invalid_argument", "is replica 1");

        // The witness node must be reachable, and joins only with its administrator's password.
        await Refused("d1", witness with { Address = ClosedPort() }, HttpStatusCode.BadGateway, "partner_error", "is unreachable");
        await Refused("d1", witness with { WitnessPassword = null }, HttpStatusCode.BadGateway, "partner_error", "give witnessPassword");
        await Refused("d1", witness with { WitnessPassword = "wrong" }, HttpStatusCode.BadGateway, "partner_error", "refused (401)");

        Assert.Empty(lab.AppliedOnA);
        Assert.Empty(lab.AppliedOnB);
        Assert.Null((await TestNode.ReadAsync<NodeDto>(await lab.W.Http.GetAsync("api/v1/node"))).ClusterId);
        Assert.Empty(lab.W.Node.Witnesses.List());

        // A witness node of another cluster stays there.
        var other = ClusterCredentials.CreateNew();
        await lab.W.PostJsonAsync("api/v1/cluster/join", new JoinClusterRequest { ClusterId = other.ClusterId.ToString(), Secret = other.SecretBase64 });
        await Refused("d1", witness, HttpStatusCode.Conflict, "cluster_mismatch", $"belongs to another cluster ({other.ClusterId})");
        Assert.Empty(lab.AppliedOnA);
    }

    [Fact]
    public async Task An_unreachable_partner_fails_the_add_and_undoes_it_everywhere()
    {
        await using var lab = await WitnessLab.StartAsync();
        string naa = await lab.CreateHaDeviceAsync("d1");
        await lab.B.Node.StopAsync();

        await AssertErrorAsync(await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Address = lab.WitnessAddress, WitnessPassword = TestNode.Password }),
            HttpStatusCode.BadGateway, "partner_error", "the witness was not added (both data nodes must know it)");
        var witness = new WitnessHeader { Address = lab.WitnessAddress };
        Assert.Equal([witness, null], lab.AppliedOnA);
        Assert.Empty(lab.W.Node.Witnesses.List());
        Assert.DoesNotContain(naa, string.Join(",", Directory.GetFiles(Path.Combine(lab.W.DataDir, "witness"))));
    }

    [Fact]
    public async Task The_partner_call_checks_the_witness_too()
    {
        await using var lab = await WitnessLab.StartAsync();
        await lab.CreateHaDeviceAsync("d1");
        using var asCluster = lab.B.CreateClient(lab.Cluster.SecretBase64, user: "cluster");
        const string partnerPath = "api/v1/replication/partner-devices/d1/witness";

        async Task Refused(object body, string code, string message) =>
            await AssertErrorAsync(await asCluster.PutAsync(partnerPath, System.Net.Http.Json.JsonContent.Create(body)), HttpStatusCode.BadRequest, code, message);

        await Refused(new { address = lab.A.Node.ApiEndpoint.ToString() }, "invalid_argument", "is replica 1 of device 'd1'");
        await Refused(new { path = "/nonexistent/tandem-share" }, "invalid_argument", "is not a folder on node");
        await Refused(new { address = "127.0.0.1:1", path = "/tmp" }, "invalid_argument", "give exactly one of address");
        await Refused(new { address = "127.0.0.1:1", port = 1 }, "invalid_json", "port");
        Assert.Empty(lab.AppliedOnB);

        // Forgetting a witness it does not have is fine (the other node undoing a half-done add).
        Assert.Equal(HttpStatusCode.OK, (await asCluster.DeleteAsync(partnerPath)).StatusCode);
        Assert.Empty(lab.AppliedOnB);
    }

    [Fact]
    public async Task Removing_when_there_is_no_witness_is_not_found()
    {
        await using var lab = await WitnessLab.StartAsync();
        await lab.CreateHaDeviceAsync("d1");
        await AssertErrorAsync(await lab.A.Http.DeleteAsync(WitnessPath), HttpStatusCode.NotFound, "not_found", "A witness of device 'd1' was not found");
        Assert.Empty(lab.AppliedOnA);
    }

    [Fact]
    public async Task The_cli_adds_a_witness_and_lists_it_on_the_witness_node()
    {
        await using var lab = await WitnessLab.StartAsync();
        string naa = await lab.CreateHaDeviceAsync("d1");

        var add = await CliRunner.AgainstAsync(lab.A, "witness", "add", "d1", "--witness", lab.WitnessAddress, "--witness-password", TestNode.Password);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Contains($"Device d1 now has a witness node {lab.WitnessAddress}.", add.Out);
        Assert.Single(lab.AppliedOnB);

        var list = await CliRunner.AgainstAsync(lab.W, "witness", "list");
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Matches($@"d1 +{naa} +- +- +-", list.Out);

        var refused = await CliRunner.AgainstAsync(lab.A, "witness", "add", "d1", "--witness", lab.B.Node.ApiEndpoint.ToString());
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("a witness must be a third node. (invalid_argument)", refused.Error);
    }

    [Fact]
    public async Task Add_then_remove_on_both_data_nodes_for_real()
    {
        await using var lab = await WitnessLab.StartAsync(recordWitnesses: false);
        string naa = await lab.CreateHaDeviceAsync("d1");
        var added = await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Address = lab.WitnessAddress, WitnessPassword = TestNode.Password });
        Assert.True(added.StatusCode == HttpStatusCode.OK, await added.Content.ReadAsStringAsync());
        foreach (var node in new[] { lab.A, lab.B })
        {
            var set = await TestNode.ReadAsync<ReplicaSetDto>(await node.Http.GetAsync("api/v1/devices/d1/replicas"));
            Assert.Equal($"witness node {lab.WitnessAddress}", set.Failover!.Witness);
            Assert.Equal(ReplicationHeader.NodeMajorityFailover, set.Failover!.Strategy);
        }
        // A different witness needs the first one removed.
        using var share = new TempDirectory();
        await AssertErrorAsync(await lab.A.PostJsonAsync(WitnessPath, new AddWitnessRequest { Path = share.Path }),
            HttpStatusCode.Conflict, "already_exists", "remove it first");

        var removed = await lab.B.Http.DeleteAsync(WitnessPath);
        Assert.True(removed.StatusCode == HttpStatusCode.OK, await removed.Content.ReadAsStringAsync());
        foreach (var node in new[] { lab.A, lab.B })
            Assert.Null((await TestNode.ReadAsync<ReplicaSetDto>(await node.Http.GetAsync("api/v1/devices/d1/replicas"))).Failover!.Witness);
        Assert.DoesNotContain(lab.W.Node.Witnesses.List(), d => d.Naa == naa);
    }

    private static string ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = listener.LocalEndpoint.ToString()!;
        listener.Stop();
        return address;
    }
}
