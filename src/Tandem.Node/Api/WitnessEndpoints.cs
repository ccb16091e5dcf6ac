using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Errors;
using Tandem.Node.Hosting;
using Tandem.Node.Validation;
using Tandem.Node.Witness;
using Tandem.Replication.Failover;

namespace Tandem.Node.Api;

/// <summary>
/// /api/v1/witness/devices on a witness node: the data-less witness devices it holds for two-node
/// HA devices of other nodes, and the votes their data nodes ask for (as user <c>cluster</c>).
/// </summary>
internal static class WitnessEndpoints
{
    /// <summary>Both sides of witnesses: this node as a witness node, and as a data node using one.</summary>
    public static void Map(IEndpointRouteBuilder api)
    {
        MapWitnessNode(api);
        DeviceWitnessEndpoints.Map(api);
    }

    private static void MapWitnessNode(IEndpointRouteBuilder api)
    {
        api.MapPost("/api/v1/witness/devices", async (HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<CreateWitnessDeviceRequest>(request);
            string naa = WitnessInput.ParseNaa(body.Naa ?? throw TandemException.Invalid("naa is required."));
            Names.ValidateDeviceName(body.Device);
            CheckMembership(node, naa, body.ClusterId);
            var device = node.Witnesses.Create(naa, body.Device!, out bool created);
            return Results.Json(device, ApiJson.Options, statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
        });

        api.MapGet("/api/v1/witness/devices", (TandemNode node) => Results.Json(node.Witnesses.List(), ApiJson.Options));

        api.MapGet("/api/v1/witness/devices/{naa}", (string naa, TandemNode node) =>
            Results.Json(node.Witnesses.Get(WitnessInput.ParseNaa(naa)), ApiJson.Options));

        api.MapDelete("/api/v1/witness/devices/{naa}", (string naa, TandemNode node) =>
        {
            node.Witnesses.Remove(WitnessInput.ParseNaa(naa));
            return Results.NoContent();
        });

        api.MapPost("/api/v1/witness/devices/{naa}/vote", async (string naa, HttpRequest request, TandemNode node) =>
        {
            string key = WitnessInput.ParseNaa(naa);
            var vote = WitnessInput.ToRequest(await JsonBody.ReadAsync<WitnessVoteRequest>(request));
            var answer = node.Witnesses.Vote(key, vote);
            return Results.Json(ToDto(answer), ApiJson.Options);
        });

        api.MapPost("/api/v1/witness/devices/{naa}/release", async (string naa, HttpRequest request, TandemNode node) =>
        {
            string key = WitnessInput.ParseNaa(naa);
            int nodeId = WitnessInput.ParseNodeId((await JsonBody.ReadAsync<WitnessReleaseRequest>(request)).NodeId);
            return Results.Json(node.Witnesses.Release(key, nodeId), ApiJson.Options);
        });
    }

    /// <summary>The verdict as the wire spells it (Unreachable never leaves a witness: it answered).</summary>
    public static string VerdictText(WitnessVerdict verdict) => verdict == WitnessVerdict.Granted ? "granted" : "refused";

    private static WitnessAnswerDto ToDto(WitnessAnswer answer) =>
        new(VerdictText(answer.Verdict), (long)answer.Lease.TotalMilliseconds, answer.Reason);

    /// <summary>
    /// A witness votes only within its cluster (the data nodes authenticate with its secret), and is
    /// never one of the device's own nodes: a node holding a copy of the device cannot be its third vote.
    /// </summary>
    private static void CheckMembership(TandemNode node, string naa, string? clusterId)
    {
        var cluster = node.Devices.Config.Cluster
            ?? throw new TandemException(ErrorCodes.ClusterMismatch, "This node is in no cluster; join the HA device's cluster first (POST /api/v1/cluster/join).");
        if (clusterId is not null && !string.Equals(clusterId.Trim(), cluster.Id, StringComparison.OrdinalIgnoreCase))
            throw new TandemException(ErrorCodes.ClusterMismatch,
                $"This node belongs to cluster {cluster.Id}, not {Names.Printable(clusterId)}; a node can be in one cluster only.");
        if (node.Devices.Devices.Any(d => d.Identity.NaaHex == naa))
            throw new TandemException(ErrorCodes.AlreadyExists,
                $"This node holds a copy of the HA device {naa}; its witness must be another node.");
    }
}
