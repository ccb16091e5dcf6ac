namespace Tandem.Node.Api.Models;

/// <summary>GET /api/v1/node.</summary>
/// <param name="Replication">Endpoints this node accepts replication links on.</param>
/// <param name="ClusterId">The cluster its HA devices belong to, or null before the first replica.</param>
public sealed record NodeDto(
    string Name,
    string Version,
    IReadOnlyList<string> Portals,
    string Api,
    string IqnPrefix,
    string Vendor,
    string Product,
    string DataDirectory,
    int Devices,
    int Sessions,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string>? Replication = null,
    string? ClusterId = null);
