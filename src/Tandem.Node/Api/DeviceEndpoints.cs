using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Devices;
using Tandem.Node.Errors;
using Tandem.Node.Hosting;

namespace Tandem.Node.Api;

/// <summary>/api/v1/devices: create, list, show, extend, remove.</summary>
internal static class DeviceEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/api/v1/devices", (TandemNode node) =>
            Results.Json(node.Devices.Devices.Select(d => Dto(node, d)).ToArray(), ApiJson.Options));

        api.MapPost("/api/v1/devices", async (HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<CreateDeviceRequest>(request);
            var device = await node.Devices.CreateAsync(body, request.HttpContext.RequestAborted);
            return Results.Json(Dto(node, device), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });

        api.MapGet("/api/v1/devices/{name}", (string name, TandemNode node) =>
            Results.Json(Dto(node, node.Devices.GetDevice(name)), ApiJson.Options));

        api.MapPost("/api/v1/devices/{name}/extend", async (string name, HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<ExtendDeviceRequest>(request);
            var device = await node.Devices.ExtendAsync(name, body.SizeBytes, request.HttpContext.RequestAborted);
            return Results.Json(Dto(node, device), ApiJson.Options);
        });

        api.MapDelete("/api/v1/devices/{name}", async (string name, HttpRequest request, TandemNode node) =>
        {
            var deleteImage = ParseBool(request.Query["deleteImage"], "deleteImage");
            await node.Devices.RemoveAsync(name, deleteImage, request.HttpContext.RequestAborted);
            return Results.NoContent();
        });
    }

    private static DeviceDto Dto(TandemNode node, ManagedDevice device) =>
        ApiMapper.ToDto(device, node.Devices.SessionCount(device.TargetName));

    private static bool ParseBool(Microsoft.Extensions.Primitives.StringValues values, string name)
    {
        if (values.Count == 0) return false;
        return values.ToString().ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" or "" => false,
            _ => throw TandemException.Invalid($"Query parameter {name} must be true or false."),
        };
    }
}
