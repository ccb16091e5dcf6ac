namespace Tandem.Node.Api.Models;

/// <summary>A logged-in (normal, not discovery) iSCSI session (GET /api/v1/sessions).</summary>
public sealed record SessionDto(
    string TargetName,
    string InitiatorName,
    string Isid,
    int Tsih,
    bool HeaderDigest,
    bool DataDigest,
    DateTimeOffset LoggedInAt,
    IReadOnlyList<ConnectionDto> Connections);

public sealed record ConnectionDto(int Cid, string LocalEndPoint, string RemoteEndPoint);
