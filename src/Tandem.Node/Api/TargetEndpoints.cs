using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Config;
using Tandem.Node.Devices;
using Tandem.Node.Hosting;

namespace Tandem.Node.Api;

/// <summary>
/// /api/v1/targets: list, and per-target ACL and CHAP. {name} is the target IQN or, for
/// convenience, the name of the device behind it.
/// </summary>
internal static class TargetEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/api/v1/targets", (TandemNode node) =>
            Results.Json(node.Devices.Devices.Select(d => Dto(node, d)).ToArray(), ApiJson.Options));

        api.MapGet("/api/v1/targets/{name}", (string name, TandemNode node) =>
            Results.Json(Dto(node, node.Devices.GetDeviceByTarget(name)), ApiJson.Options));

        api.MapPut("/api/v1/targets/{name}/chap", async (string name, HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<ChapRequest>(request);
            var device = await node.Devices.SetChapAsync(name, ToConfig(body), request.HttpContext.RequestAborted);
            return Results.Json(Dto(node, device), ApiJson.Options);
        });

        api.MapDelete("/api/v1/targets/{name}/chap", async (string name, HttpRequest request, TandemNode node) =>
        {
            var device = await node.Devices.SetChapAsync(name, null, request.HttpContext.RequestAborted);
            return Results.Json(Dto(node, device), ApiJson.Options);
        });

        api.MapPut("/api/v1/targets/{name}/acl", async (string name, HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<AclRequest>(request);
            var device = await node.Devices.SetAclAsync(name, body.Initiators, body.Networks, request.HttpContext.RequestAborted);
            return Results.Json(Dto(node, device), ApiJson.Options);
        });

        api.MapDelete("/api/v1/targets/{name}/acl", async (string name, HttpRequest request, TandemNode node) =>
        {
            var device = await node.Devices.SetAclAsync(name, [], [], request.HttpContext.RequestAborted);
            return Results.Json(Dto(node, device), ApiJson.Options);
        });
    }

    private static TargetDto Dto(TandemNode node, ManagedDevice device) =>
        ApiMapper.ToTargetDto(device, NodeEndpoints.Portals(node), node.Devices.SessionCount(device.TargetName));

    /// <summary>Missing fields become empty strings so validation (not a null reference) reports them.</summary>
    internal static ChapConfig ToConfig(ChapRequest body) => new()
    {
        User = body.User ?? "",
        Secret = body.Secret ?? "",
        MutualUser = body.MutualUser,
        MutualSecret = body.MutualSecret,
    };
}
