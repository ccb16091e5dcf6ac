using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tandem.Node.Api.Models;
using Tandem.Node.Hosting;

namespace Tandem.Node.Api;

internal static class NodeEndpoints
{
    public static void Map(IEndpointRouteBuilder api) =>
        api.MapGet("/api/v1/node", (TandemNode node) => Results.Json(Describe(node), ApiJson.Options));

    internal static NodeDto Describe(TandemNode node) => new(
        node.NodeName,
        TandemNode.Version,
        Portals(node),
        node.ApiEndpoint.ToString(),
        node.Devices.Settings.IqnPrefix,
        node.Devices.Settings.Vendor,
        node.Devices.Settings.Product,
        node.Data.Root,
        node.Devices.Devices.Count,
        node.Devices.Sessions.GetSessions().Count,
        NodeWarnings.For(node.Devices),
        node.Devices.ReplicationEndpoints.Select(e => e.ToString()).ToArray(),
        node.Devices.Config.Cluster?.Id);

    internal static IReadOnlyList<string> Portals(TandemNode node) => node.IscsiPortals.Select(p => p.ToString()).ToArray();
}
