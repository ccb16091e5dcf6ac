namespace Tandem.Iscsi;

/// <summary>A normal session as the management API shows it.</summary>
/// <param name="Isid">The initiator session id as 12 lower-case hex digits.</param>
public sealed record IscsiSessionInfo(
    string TargetName,
    string InitiatorName,
    string Isid,
    ushort Tsih,
    bool HeaderDigest,
    bool DataDigest,
    DateTimeOffset LoggedInAt,
    IReadOnlyList<IscsiConnectionInfo> Connections);

/// <summary>A connection of a session.</summary>
public sealed record IscsiConnectionInfo(ushort Cid, string LocalEndPoint, string RemoteEndPoint);
