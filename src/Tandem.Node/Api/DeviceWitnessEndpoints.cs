using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Devices;
using Tandem.Node.HighAvailability;
using Tandem.Node.Hosting;
using Tandem.Replication.Replicas;
using Tandem.Storage;

namespace Tandem.Node.Api;

/// <summary>
/// /api/v1/devices/{name}/witness on a data node (<c>witness add</c> / <c>remove</c>), and the
/// node-to-node call that makes the partner follow.
/// </summary>
internal static class DeviceWitnessEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/api/v1/devices/{name}/witness", async (string name, HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<AddWitnessRequest>(request);
            var device = await node.Devices.AddWitnessAsync(name, body, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options);
        });

        api.MapDelete("/api/v1/devices/{name}/witness", async (string name, HttpRequest request, TandemNode node) =>
        {
            var device = await node.Devices.RemoveWitnessAsync(name, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options);
        });

        api.MapPut("/api/v1/replication/partner-devices/{name}/witness", async (string name, HttpRequest request, TandemNode node) =>
        {
            var witness = await JsonBody.ReadAsync<WitnessHeader>(request);
            var device = await node.Devices.SetPartnerWitnessAsync(name, witness, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options);
        });

        api.MapDelete("/api/v1/replication/partner-devices/{name}/witness", async (string name, HttpRequest request, TandemNode node) =>
        {
            var device = await node.Devices.SetPartnerWitnessAsync(name, null, request.HttpContext.RequestAborted);
            return Results.Json(View(device), ApiJson.Options);
        });
    }

    private static ReplicaSetDto View(ManagedDevice device) =>
        ReplicaViews.ToDto(device.Name, (ReplicatedDevice)device.Device!, device.LogicalUnit?.Options.Alua as ReplicaAlua);
}
