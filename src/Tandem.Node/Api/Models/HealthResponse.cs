namespace Tandem.Node.Api.Models;

/// <summary>GET /api/v1/health (no authentication).</summary>
public sealed record HealthResponse(string Status);
