using System.Net;
using System.Text;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;
using Tandem.Node.Tests.Support;
using Tandem.Replication.Links;

namespace Tandem.Node.Tests.Witness;

/// <summary>/api/v1/witness/devices on a real node: the witness devices, votes as user cluster, and every bad request refused clearly.</summary>
public class WitnessApiTests
{
    private const string Naa = "6a5d0e0123456789abcdef0123456789";
    private const string G1 = "1111111111111111";
    private const string G2 = "2222222222222222";
    private const string VotePath = $"api/v1/witness/devices/{Naa}/vote";

    /// <summary>A witness node in a new cluster holding the witness device of <see cref="Naa"/>; returns a client authenticated as user cluster.</summary>
    internal static async Task<HttpClient> MakeWitnessAsync(TestNode node, ClusterCredentials cluster)
    {
        var joined = await node.PostJsonAsync("api/v1/cluster/join", new { clusterId = cluster.ClusterId.ToString(), secret = cluster.SecretBase64 });
        Assert.Equal(HttpStatusCode.NoContent, joined.StatusCode);
        var created = await node.PostJsonAsync("api/v1/witness/devices", new { naa = Naa, device = "d1", clusterId = cluster.ClusterId.ToString() });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return node.CreateClient(cluster.SecretBase64, user: "cluster");
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static string Vote(int nodeId, string generation, string next, params string[] history) =>
        JsonSerializer.Serialize(new { nodeId, generation, history, nextGeneration = next });

    private static async Task<WitnessAnswerDto> AnswerAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await TestNode.ReadAsync<WitnessAnswerDto>(response);
    }

    [Fact]
    public async Task Witness_device_lifecycle_and_votes()
    {
        await using var node = await TestNode.StartAsync();
        var cluster = ClusterCredentials.CreateNew();
        using var asCluster = await MakeWitnessAsync(node, cluster);

        // The same NAA again: the device as it is (the data node retries witness add).
        var again = await node.PostJsonAsync("api/v1/witness/devices", new { naa = Naa.ToUpperInvariant(), device = "d1" });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        var granted = await AnswerAsync(await PostAsync(asCluster, VotePath, Vote(1, G1, G2)));
        Assert.Equal(new WitnessAnswerDto("granted", 8000, "granted"), granted);
        var refused = await AnswerAsync(await PostAsync(asCluster, VotePath, Vote(2, G1, G1)));
        Assert.Equal("refused", refused.Verdict);
        Assert.Equal(0, refused.LeaseMilliseconds);
        Assert.Contains("older than generation " + G2, refused.Reason);

        var list = await TestNode.ReadAsync<WitnessDeviceDto[]>(await node.Http.GetAsync("api/v1/witness/devices"));
        Assert.Equal(new WitnessDeviceDto("d1", Naa, 1, G2, 1), Assert.Single(list));

        // The decision survives a restart of the witness node.
        await node.RestartAsync();
        using var afterRestart = node.CreateClient(cluster.SecretBase64, user: "cluster");
        Assert.Equal(new WitnessDeviceDto("d1", Naa, 1, G2, 1),
            await TestNode.ReadAsync<WitnessDeviceDto>(await afterRestart.GetAsync($"api/v1/witness/devices/{Naa}")));
        Assert.Contains("votes for replica 1", (await AnswerAsync(await PostAsync(afterRestart, VotePath, Vote(2, G2, G2)))).Reason);

        var released = await PostAsync(afterRestart, $"api/v1/witness/devices/{Naa}/release", """{"nodeId":1}""");
        Assert.Equal(HttpStatusCode.OK, released.StatusCode);
        Assert.Null((await TestNode.ReadAsync<WitnessDeviceDto>(released)).Holder);
        Assert.Equal("granted", (await AnswerAsync(await PostAsync(afterRestart, VotePath, Vote(2, G2, G2)))).Verdict);

        Assert.Equal(HttpStatusCode.NoContent, (await node.Http.DeleteAsync($"api/v1/witness/devices/{Naa}")).StatusCode);
        await AssertErrorAsync(await PostAsync(afterRestart, VotePath, Vote(2, G2, G2)), HttpStatusCode.NotFound, "not_found", "Witness device for NAA");
        Assert.Empty(Directory.GetFiles(Path.Combine(node.DataDir, "witness")));
    }

    [Fact]
    public async Task A_witness_device_needs_the_cluster_and_another_node()
    {
        await using var node = await TestNode.StartAsync();
        await AssertErrorAsync(await node.PostJsonAsync("api/v1/witness/devices", new { naa = Naa, device = "d1" }),
            HttpStatusCode.Conflict, "cluster_mismatch", "join the HA device's cluster first");

        var cluster = ClusterCredentials.CreateNew();
        await MakeWitnessAsync(node, cluster);
        await AssertErrorAsync(await node.PostJsonAsync("api/v1/witness/devices",
                new { naa = "6a5d0e00000000000000000000000001", device = "d2", clusterId = Guid.NewGuid().ToString() }),
            HttpStatusCode.Conflict, "cluster_mismatch", "belongs to cluster");
        await AssertErrorAsync(await node.PostJsonAsync("api/v1/witness/devices", new { naa = "6a5d0e00000000000000000000000001", device = "D1" }),
            HttpStatusCode.Conflict, "already_exists", "named 'd1'");

        // A node holding a copy of the device cannot be its third vote.
        var local = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices", new { name = "own", type = "ram", sizeBytes = 1 << 20 }));
        await AssertErrorAsync(await node.PostJsonAsync("api/v1/witness/devices", new { naa = local.Naa, device = "own" }),
            HttpStatusCode.Conflict, "already_exists", "its witness must be another node");
    }

    [Fact]
    public async Task Votes_need_the_cluster_secret()
    {
        await using var node = await TestNode.StartAsync();
        await MakeWitnessAsync(node, ClusterCredentials.CreateNew());
        using var stranger = node.CreateClient(ClusterCredentials.CreateNew().SecretBase64, user: "cluster");
        await AssertErrorAsync(await PostAsync(stranger, VotePath, Vote(1, G1, G1)), HttpStatusCode.Unauthorized, "unauthorized", "Authentication required");
    }

    public static TheoryData<string, string, string, string> BadVotes() => new()
    {
        { "api/v1/witness/devices/xyz/vote", Vote(1, G1, G1), "invalid_argument", "is not 32 hex digits" },
        { $"api/v1/witness/devices/{Naa[..31]}g/vote", Vote(1, G1, G1), "invalid_argument", "is not 32 hex digits" },
        { VotePath, Vote(0, G1, G1), "invalid_argument", "nodeId 0 is not a replica id (1-3)" },
        { VotePath, Vote(4, G1, G1), "invalid_argument", "nodeId 4 is not a replica id (1-3)" },
        { VotePath, Vote(1, "111111111111111", G1), "invalid_argument", "generation '111111111111111' is not a generation (16 hex digits)" },
        { VotePath, Vote(1, G1, "zzzzzzzzzzzzzzzz"), "invalid_argument", "nextGeneration 'zzzzzzzzzzzzzzzz' is not a generation" },
        { VotePath, Vote(1, G1, G1, G2, "bad"), "invalid_argument", "history[1] 'bad' is not a generation" },
        { VotePath, Vote(1, G1, G1, [.. Enumerable.Repeat(G2, 17)]), "invalid_argument", "history holds 17 generations; at most 16" },
        { VotePath, $$"""{"generation":"{{G1}}","history":[],"nextGeneration":"{{G1}}"}""", "invalid_argument", "nodeId is required" },
        { VotePath, $$"""{"nodeId":1,"history":[],"nextGeneration":"{{G1}}"}""", "invalid_argument", "generation is required" },
        { VotePath, $$"""{"nodeId":1,"generation":"{{G1}}","history":[]}""", "invalid_argument", "nextGeneration is required" },
        { VotePath, $$"""{"nodeId":1,"generation":"{{G1}}","nextGeneration":"{{G1}}"}""", "invalid_argument", "history is required" },
        { VotePath, "{\"nodeId\":1,", "invalid_json", "not valid JSON" },
        { VotePath, "null", "invalid_json", "not null" },
        { VotePath, $$"""{"nodeId":"1","generation":"{{G1}}","history":[],"nextGeneration":"{{G1}}"}""", "invalid_json", "nodeId" },
        { VotePath, $$"""{"node":1,"generation":"{{G1}}","history":[],"nextGeneration":"{{G1}}"}""", "invalid_json", "node" },
        { $"api/v1/witness/devices/{Naa}/release", """{"nodeId":9}""", "invalid_argument", "nodeId 9 is not a replica id" },
        { $"api/v1/witness/devices/{Naa}/release", "{}", "invalid_argument", "nodeId is required" },
        { "api/v1/witness/devices", """{"device":"d9"}""", "invalid_argument", "naa is required" },
        { "api/v1/witness/devices", """{"naa":"12","device":"d9"}""", "invalid_argument", "'12' is not 32 hex digits" },
        { "api/v1/witness/devices", """{"naa":"6a5d0e00000000000000000000000009"}""", "invalid_name", "A device name is required" },
        { "api/v1/witness/devices", """{"naa":"6a5d0e00000000000000000000000009","device":"../x"}""", "invalid_name", "is invalid" },
    };

    [Theory]
    [MemberData(nameof(BadVotes))]
    public async Task Bad_requests_are_refused_clearly_and_the_witness_keeps_serving(string path, string body, string code, string message)
    {
        await using var node = await TestNode.StartAsync();
        using var asCluster = await MakeWitnessAsync(node, ClusterCredentials.CreateNew());

        await AssertErrorAsync(await PostAsync(asCluster, path, body), HttpStatusCode.BadRequest, code, message);

        Assert.Equal("granted", (await AnswerAsync(await PostAsync(asCluster, VotePath, Vote(1, G1, G1)))).Verdict);
        Assert.Single(await TestNode.ReadAsync<WitnessDeviceDto[]>(await node.Http.GetAsync("api/v1/witness/devices")));
    }

    [Fact]
    public async Task Unknown_and_malformed_naa_on_every_route()
    {
        await using var node = await TestNode.StartAsync();
        await MakeWitnessAsync(node, ClusterCredentials.CreateNew());
        const string unknown = "6a5d0e00000000000000000000000042";
        await AssertErrorAsync(await node.PostRawAsync($"api/v1/witness/devices/{unknown}/vote", Vote(1, G1, G1)), HttpStatusCode.NotFound, "not_found", unknown);
        await AssertErrorAsync(await node.PostRawAsync($"api/v1/witness/devices/{unknown}/release", """{"nodeId":1}"""), HttpStatusCode.NotFound, "not_found", unknown);
        await AssertErrorAsync(await node.Http.DeleteAsync($"api/v1/witness/devices/{unknown}"), HttpStatusCode.NotFound, "not_found", unknown);
        await AssertErrorAsync(await node.Http.GetAsync($"api/v1/witness/devices/{unknown}"), HttpStatusCode.NotFound, "not_found", unknown);
        await AssertErrorAsync(await node.Http.DeleteAsync("api/v1/witness/devices/nope"), HttpStatusCode.BadRequest, "invalid_argument", "not 32 hex digits");
    }

    internal static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code, string message)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        var error = JsonSerializer.Deserialize<ErrorResponse>(text, ApiJson.Options)!.Error;
        Assert.Equal(code, error.Code);
        Assert.Contains(message, error.Message);
    }
}
