using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Hosting;

namespace Tandem.Node.Api;

/// <summary>/api/v1/discovery: CHAP required for SendTargets discovery sessions.</summary>
internal static class DiscoveryEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/api/v1/discovery", (TandemNode node) => Results.Json(Dto(node), ApiJson.Options));

        api.MapPut("/api/v1/discovery/chap", async (HttpRequest request, TandemNode node) =>
        {
            var body = await JsonBody.ReadAsync<ChapRequest>(request);
            await node.Devices.SetDiscoveryChapAsync(TargetEndpoints.ToConfig(body), request.HttpContext.RequestAborted);
            return Results.Json(Dto(node), ApiJson.Options);
        });

        api.MapDelete("/api/v1/discovery/chap", async (HttpRequest request, TandemNode node) =>
        {
            await node.Devices.SetDiscoveryChapAsync(null, request.HttpContext.RequestAborted);
            return Results.Json(Dto(node), ApiJson.Options);
        });
    }

    private static DiscoveryDto Dto(TandemNode node) => new(ApiMapper.ToChapStatus(node.Devices.Config.DiscoveryChap));
}
