using System.Text;
using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Targets;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.Validation;

namespace Tandem.Node.Devices;

public sealed partial class DeviceManager
{
    /// <summary>RFC 7143 §12.1.3: CHAP secrets should be at least 12 bytes (96 bits)...</summary>
    public const int MinChapSecretBytes = 12;

    /// <summary>...and the CHAP_N/CHAP_R values stay within one text key (implementation limit, 255 bytes).</summary>
    public const int MaxChapSecretBytes = 255;
    public const int MaxChapUserBytes = 255;

    /// <summary>Implementation limit on ACL entries per target.</summary>
    public const int MaxAclEntries = 256;

    /// <summary>Replaces the target's initiator/network allow-lists (empty lists allow everyone).</summary>
    public Task<ManagedDevice> SetAclAsync(string target, IReadOnlyList<string>? initiators, IReadOnlyList<string>? networks,
        CancellationToken ct = default) =>
        Exclusive(() =>
        {
            var device = GetDeviceByTarget(target);
            var acl = ValidateAcl(initiators ?? [], networks ?? []);
            var updated = UpdateTarget(device, device.Config.Target with { Acl = acl });
            _log.LogInformation("Target {Target} ACL set: {Initiators} initiator(s), {Networks} network(s)",
                updated.TargetName, acl.Initiators.Count, acl.Networks.Count);
            return Task.FromResult(updated);
        }, ct);

    /// <summary>Sets (or with null clears) one-way and optional mutual CHAP of a target.</summary>
    public Task<ManagedDevice> SetChapAsync(string target, ChapConfig? chap, CancellationToken ct = default) =>
        Exclusive(() =>
        {
            var device = GetDeviceByTarget(target);
            if (chap is not null)
                ValidateChap(chap, allowMutual: true);
            var updated = UpdateTarget(device, device.Config.Target with { Chap = chap });
            _log.LogInformation("Target {Target} CHAP {State}", updated.TargetName,
                chap is null ? "cleared" : chap.MutualUser is null ? "set (one-way)" : "set (mutual)");
            return Task.FromResult(updated);
        }, ct);

    /// <summary>Sets (or with null clears) the CHAP credentials required for discovery sessions.</summary>
    public Task SetDiscoveryChapAsync(ChapConfig? chap, CancellationToken ct = default) =>
        Exclusive(() =>
        {
            if (chap is not null)
                ValidateChap(chap, allowMutual: false);
            SaveConfig(_config with { DiscoveryChap = chap });
            Catalog.DiscoveryChap = ToCredentials(chap);
            _log.LogInformation("Discovery CHAP {State}", chap is null ? "cleared" : "set");
            return Task.FromResult(true);
        }, ct);

    /// <summary>Persists the new target settings, then applies them to the live target.</summary>
    private ManagedDevice UpdateTarget(ManagedDevice device, TargetConfig target)
    {
        var config = device.Config with { Target = target };
        SaveConfig(WithDevices(_config, _config.Devices.Select(d => d.Name == device.Name ? config : d)));
        device.Config = config;
        if (device.Target is not null)
            device.Target.Access = ToPolicy(target);
        return device;
    }

    private static AclConfig ValidateAcl(IReadOnlyList<string> initiators, IReadOnlyList<string> networks)
    {
        if (initiators.Count > MaxAclEntries || networks.Count > MaxAclEntries)
            throw TandemException.Invalid($"An ACL holds at most {MaxAclEntries} initiators and {MaxAclEntries} networks.");
        foreach (var initiator in initiators)
        {
            if (initiator is null)
                throw TandemException.Invalid("Initiator names must not be null.");
            IscsiNames.ValidateInitiatorName(initiator);
        }

        var parsed = networks.Select(n => n is null
            ? throw TandemException.Invalid("Networks must not be null.")
            : Networks.Parse(n).ToString()).ToArray();
        return new AclConfig
        {
            Initiators = initiators.Distinct(StringComparer.OrdinalIgnoreCase).ToArray(),
            Networks = parsed.Distinct(StringComparer.OrdinalIgnoreCase).ToArray(),
        };
    }

    internal static void ValidateChap(ChapConfig chap, bool allowMutual)
    {
        ValidateChapUser(chap.User, "user");
        ValidateChapSecret(chap.Secret, "secret");
        if (chap.MutualUser is null && chap.MutualSecret is null)
            return;
        if (!allowMutual)
            throw TandemException.Invalid("Mutual CHAP is not available for discovery; give only user and secret.");
        if (chap.MutualUser is null || chap.MutualSecret is null)
            throw TandemException.Invalid("Mutual CHAP needs both mutualUser and mutualSecret.");
        ValidateChapUser(chap.MutualUser, "mutualUser");
        ValidateChapSecret(chap.MutualSecret, "mutualSecret");
        if (chap.MutualSecret == chap.Secret)
            throw TandemException.Invalid("The mutual CHAP secret must differ from the initiator's secret (RFC 7143 §12.1.3).");
    }

    private static void ValidateChapUser(string? user, string field)
    {
        if (string.IsNullOrEmpty(user))
            throw TandemException.Invalid($"CHAP {field} is required.");
        if (Encoding.UTF8.GetByteCount(user) > MaxChapUserBytes || user.Any(char.IsControl))
            throw TandemException.Invalid($"CHAP {field} must be at most {MaxChapUserBytes} bytes without control characters.");
    }

    private static void ValidateChapSecret(string? secret, string field)
    {
        if (string.IsNullOrEmpty(secret))
            throw TandemException.Invalid($"CHAP {field} is required.");
        var bytes = Encoding.UTF8.GetByteCount(secret);
        if (bytes < MinChapSecretBytes || bytes > MaxChapSecretBytes)
            throw TandemException.Invalid(
                $"CHAP {field} is {bytes} bytes; it must be {MinChapSecretBytes} to {MaxChapSecretBytes} bytes (RFC 7143 §12.1.3 asks for at least 96 bits).");
        if (secret.Any(char.IsControl))
            throw TandemException.Invalid($"CHAP {field} must not contain control characters.");
    }

    internal static TargetAccessPolicy ToPolicy(TargetConfig target) =>
        target.Acl.Initiators.Count == 0 && target.Acl.Networks.Count == 0 && target.Chap is null
            ? TargetAccessPolicy.AllowAll
            : new(
                target.Acl.Initiators.ToArray(),
                target.Acl.Networks.Select(n => Networks.Parse(n)).ToArray(),
                target.Chap is { } c ? new ChapCredentials(c.User, c.Secret) : null,
                target.Chap is { MutualUser: { } mu, MutualSecret: { } ms } ? new ChapCredentials(mu, ms) : null);

    internal static ChapCredentials? ToCredentials(ChapConfig? chap) =>
        chap is null ? null : new ChapCredentials(chap.User, chap.Secret);
}
