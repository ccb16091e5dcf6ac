using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;

namespace Tandem.Node.Api;

internal static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder api) =>
        api.MapGet("/api/v1/health", () => Results.Json(new HealthResponse("ok"), ApiJson.Options));
}
