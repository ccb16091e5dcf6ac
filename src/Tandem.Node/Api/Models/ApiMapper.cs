using Tandem.Iscsi;
using Tandem.Node.Config;
using Tandem.Node.Devices;

namespace Tandem.Node.Api.Models;

/// <summary>Domain objects to API documents.</summary>
internal static class ApiMapper
{
    public static DeviceDto ToDto(ManagedDevice d, int sessions) => new(
        d.Name,
        d.Type,
        d.IsOnline ? "online" : "offline",
        d.Error,
        d.SizeBytes,
        d.SectorSize,
        d.Provisioning.ToString().ToLowerInvariant(),
        d.TargetName,
        d.Config.Target.Alias,
        d.Identity.NaaHex,
        d.Identity.Serial,
        d.Location,
        d.ImagePath,
        d.HeaderPath,
        d.AllocatedBytes,
        sessions,
        d.Device is Replication.Replicas.ReplicatedDevice r
            ? HighAvailability.ReplicaViews.ToDto(d.Name, r, d.LogicalUnit?.Options.Alua as HighAvailability.ReplicaAlua)
            : null);

    public static TargetDto ToTargetDto(ManagedDevice d, IReadOnlyList<string> portals, int sessions) => new(
        d.TargetName,
        d.Config.Target.Alias,
        d.Name,
        0,
        d.IsOnline ? "online" : "offline",
        portals,
        new AclDto(d.Config.Target.Acl.Initiators, d.Config.Target.Acl.Networks),
        ToChapStatus(d.Config.Target.Chap),
        sessions);

    public static ChapStatusDto ToChapStatus(ChapConfig? chap) =>
        new(chap is not null, chap?.User, chap?.MutualUser is not null, chap?.MutualUser);

    public static SessionDto ToDto(IscsiSessionInfo s) => new(
        s.TargetName,
        s.InitiatorName,
        s.Isid,
        s.Tsih,
        s.HeaderDigest,
        s.DataDigest,
        s.LoggedInAt,
        s.Connections.Select(c => new ConnectionDto(c.Cid, c.LocalEndPoint, c.RemoteEndPoint)).ToArray());
}
