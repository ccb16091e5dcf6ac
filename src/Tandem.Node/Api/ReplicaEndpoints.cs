using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Devices;
using Tandem.Node.Errors;
using Tandem.Node.HighAvailability;
using Tandem.Node.Hosting;
using Tandem.Replication.Replicas;

namespace Tandem.Node.Api;

/// <summary>
/// The Replication Manager: /api/v1/devices/{name}/replicas, sync, mark-synchronized, verify; and
/// the node-to-node calls a partner makes while adding a replica.
/// </summary>
internal static class ReplicaEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/api/v1/devices/{name}/replicas", (string name, TandemNode node) =>
            Results.Json(View(node.Devices.GetDevice(name)), ApiJson.Options));

        api.MapPost("/api/v1/devices/{name}/replicas", async (string name, HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<AddReplicaRequest>(request);
            var device = await node.Devices.AddReplicasAsync(name, body, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });

        api.MapDelete("/api/v1/devices/{name}/replicas", async (string name, HttpRequest request, TandemNode node) =>
        {
            string partner = request.Query["partner"].ToString();
            if (string.IsNullOrWhiteSpace(partner))
                throw TandemException.Invalid("Query parameter partner (HOST:PORT or replica id) is required.");
            var device = await node.Devices.RemoveReplicaAsync(name, partner, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options);
        });

        api.MapPost("/api/v1/devices/{name}/sync", async (string name, HttpRequest request, TandemNode node) =>
        {
            var body = request.ContentLength is null or 0 ? new SyncRequest() : await JsonBody.ReadAsync<SyncRequest>(request);
            var device = node.Devices.GetDevice(name);
            var replicated = node.Devices.GetReplicated(name);
            int started = Guard(() => replicated.SyncNow(body.Full ?? false));
            if (started == 0 && !replicated.Peers.Any(p => p.Sync is not null))
            {
                bool allSynchronized = replicated.Peers.All(p => p.ReceivesWrites && p.RecordedState == ReplicaState.Synchronized);
                throw new TandemException(ErrorCodes.ReplicaState, allSynchronized
                    ? $"Every replica of '{device.Name}' is synchronized; use --full to copy everything again."
                    : $"No replica of '{device.Name}' can be synchronized from this node now (partners unreachable, or this node is not synchronized).");
            }
            return Results.Json(View(device), ApiJson.Options, statusCode: StatusCodes.Status202Accepted);
        });

        api.MapPost("/api/v1/devices/{name}/mark-synchronized", async (string name, TandemNode node) =>
        {
            var device = node.Devices.GetDevice(name);
            await node.Devices.GetReplicated(name).MarkSynchronizedAsync();
            return Results.Json(View(device), ApiJson.Options);
        });

        api.MapPost("/api/v1/devices/{name}/verify", async (string name, HttpRequest request, TandemNode node) =>
        {
            var replicated = node.Devices.GetReplicated(name);
            VerifyResult result;
            try
            {
                result = await replicated.VerifyAsync(request.HttpContext.RequestAborted);
            }
            catch (Exception e) when (e is InvalidOperationException or Storage.DeviceUnavailableException)
            {
                throw new TandemException(ErrorCodes.ReplicaState, e.Message, e);
            }
            catch (IOException e)
            {
                throw new TandemException(ErrorCodes.PartnerError, e.Message, e);
            }
            return Results.Json(new VerifyResultDto(name, result.ComparedNodes, result.ComparedBytes, result.Identical,
                result.Differences.Select(d => new VerifyDifferenceDto(d.NodeId, d.OffsetBytes, d.LengthBytes)).ToArray()), ApiJson.Options);
        });

        api.MapPost("/api/v1/cluster/join", async (HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<JoinClusterRequest>(request);
            await node.Devices.JoinClusterAsync(body, request.HttpContext.RequestAborted);
            return Results.NoContent();
        });

        api.MapPost("/api/v1/replication/partner-devices", async (HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<PartnerDeviceRequest>(request);
            var device = await node.Devices.CreatePartnerDeviceAsync(body, request.HttpContext.RequestAborted);
            return Results.Json(ApiMapper.ToDto(device, 0), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });

        api.MapDelete("/api/v1/replication/partner-devices/{name}/members/{nodeId:int}", async (string name, int nodeId, HttpRequest request, TandemNode node) =>
        {
            var device = await node.Devices.ForgetMemberAsync(name, nodeId, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options);
        });
    }

    private static ReplicaSetDto View(ManagedDevice device) =>
        device.Device is ReplicatedDevice replicated
            ? ReplicaViews.ToDto(device.Name, replicated, device.LogicalUnit?.Options.Alua as ReplicaAlua)
            : new ReplicaSetDto(device.Name, "not-replicated", []);

    private static T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (InvalidOperationException e)
        {
            throw new TandemException(ErrorCodes.ReplicaState, e.Message, e);
        }
    }
}
