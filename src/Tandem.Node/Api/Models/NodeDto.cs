namespace Tandem.Node.Api.Models;

/// <summary>GET /api/v1/node.</summary>
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
    IReadOnlyList<string> Warnings);
