using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Hosting;

namespace Tandem.Node.Api;

/// <summary>/api/v1/sessions: logged-in iSCSI sessions (discovery sessions are not listed).</summary>
internal static class SessionEndpoints
{
    public static void Map(IEndpointRouteBuilder api) =>
        api.MapGet("/api/v1/sessions", (TandemNode node) =>
            Results.Json(node.Devices.Sessions.GetSessions().Select(ApiMapper.ToDto).ToArray(), ApiJson.Options));
}
