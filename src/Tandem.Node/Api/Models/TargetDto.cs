namespace Tandem.Node.Api.Models;

/// <summary>A target as the API reports it (GET /api/v1/targets). Secrets are never returned.</summary>
public sealed record TargetDto(
    string Name,
    string? Alias,
    string Device,
    int Lun,
    string State,
    IReadOnlyList<string> Portals,
    AclDto Acl,
    ChapStatusDto Chap,
    int Sessions);

/// <summary>Allowed initiators and source networks; both empty: everyone may log in.</summary>
public sealed record AclDto(IReadOnlyList<string> Initiators, IReadOnlyList<string> Networks);

/// <summary>Whether CHAP is required, for which user, and whether the target authenticates back (mutual).</summary>
public sealed record ChapStatusDto(bool Enabled, string? User, bool Mutual, string? MutualUser);

/// <summary>GET /api/v1/discovery: discovery-session settings.</summary>
public sealed record DiscoveryDto(ChapStatusDto Chap);

/// <summary>Body of PUT /api/v1/targets/{name}/chap and PUT /api/v1/discovery/chap (no mutual fields there).</summary>
public sealed record ChapRequest
{
    public string? User { get; init; }
    public string? Secret { get; init; }
    public string? MutualUser { get; init; }
    public string? MutualSecret { get; init; }
}

/// <summary>Body of PUT /api/v1/targets/{name}/acl.</summary>
public sealed record AclRequest
{
    public IReadOnlyList<string>? Initiators { get; init; }
    public IReadOnlyList<string>? Networks { get; init; }
}
