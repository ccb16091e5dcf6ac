using System.Net;
using Tandem.Scsi.Transport;

namespace Tandem.Iscsi.Targets;

/// <summary>An iSCSI target as the node publishes it: name, the SCSI target behind it, and who may log in.</summary>
public sealed class IscsiTargetDefinition
{
    public required string Name { get; init; }
    public string? Alias { get; init; }
    public required IScsiTarget Scsi { get; init; }

    /// <summary>
    /// ALUA identity of this node's port for this target (an HA device numbers its nodes 1-3, so
    /// each target can differ); null: the server's <see cref="IscsiServerOptions"/> values.
    /// </summary>
    public TargetPortIdentity? TargetPort { get; init; }

    /// <summary>Access policy; replaced atomically when the administrator changes ACL or CHAP.</summary>
    public TargetAccessPolicy Access { get; set; } = TargetAccessPolicy.AllowAll;
}

/// <summary>SPC relative target port identifier and ALUA target port group of this node's port.</summary>
public sealed record TargetPortIdentity(ushort RelativeTargetPortId, ushort TargetPortGroupId);

/// <summary>
/// Who may log in to (and discover) a target. Empty allow-lists mean "everyone", as the
/// commercial product's default.
/// </summary>
public sealed record TargetAccessPolicy(
    IReadOnlyList<string> AllowedInitiators,
    IReadOnlyList<IPNetwork> AllowedNetworks,
    ChapCredentials? Chap,
    ChapCredentials? MutualChap)
{
    public static TargetAccessPolicy AllowAll { get; } = new([], [], null, null);
}

/// <summary>A CHAP user name and secret (RFC 7143 §12.1.3; secrets of 12–16+ bytes recommended).</summary>
public sealed record ChapCredentials(string User, string Secret);

/// <summary>The node's set of targets, looked up at login and listed at discovery. Thread-safe.</summary>
public interface ITargetCatalog
{
    bool TryGetTarget(string name, out IscsiTargetDefinition target);
    IReadOnlyCollection<IscsiTargetDefinition> Targets { get; }

    /// <summary>Optional CHAP required for discovery sessions (null: none).</summary>
    ChapCredentials? DiscoveryChap { get; }
}
