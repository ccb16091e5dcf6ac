using System.Text.Json;
using System.Text.Json.Serialization;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Storage;

namespace Tandem.Node.Config;

/// <summary>
/// Loads and saves <c>node.json</c>. Saves are atomic (<see cref="AtomicFile"/>): after a crash the
/// file is either the old or the new version, never a mix. A file that cannot be read is reported
/// by name and never overwritten: the administrator's configuration is worth more than our uptime.
/// </summary>
public sealed class NodeConfigStore(string path)
{
    /// <summary>node.json holds CHAP secrets: owner read/write only.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Implementation limit: a sane node.json is a few KB; refuse to parse absurd files.</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    internal static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Path { get; } = path;

    /// <summary>Reads the configuration, or null when the file does not exist yet (first start).</summary>
    /// <exception cref="TandemException">config_error naming the file when it is unreadable or invalid.</exception>
    public NodeConfig? Load()
    {
        if (!File.Exists(Path))
            return null;

        NodeConfig? config;
        try
        {
            var info = new FileInfo(Path);
            if (info.Length > MaxFileBytes)
                throw Corrupt($"it is {info.Length} bytes, larger than the {MaxFileBytes} byte limit");
            var bytes = File.ReadAllBytes(Path);
            config = JsonSerializer.Deserialize<NodeConfig>(bytes, JsonOptions);
        }
        catch (JsonException e)
        {
            throw Corrupt(e.Message, e);
        }
        catch (IOException e)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"Cannot read configuration file {Path}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"Cannot read configuration file {Path}: {e.Message}", e);
        }

        if (config is null)
            throw Corrupt("it contains JSON null");
        Validate(config);
        return config;
    }

    public void Save(NodeConfig config)
    {
        var json = JsonSerializer.Serialize(config, JsonOptions);
        try
        {
            AtomicFile.WriteAllText(Path, json + "\n", OperatingSystem.IsWindows() ? null : FileMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.IoError, $"Cannot write configuration file {Path}: {e.Message}", e);
        }
    }

    /// <summary>Checks what JSON shape alone cannot: versions, names, duplicates.</summary>
    private void Validate(NodeConfig config)
    {
        if (config.Version > NodeConfig.CurrentVersion)
            throw Corrupt($"it has version {config.Version}, newer than this Tandem understands ({NodeConfig.CurrentVersion})");
        if (config.Version < 1)
            throw Corrupt($"version {config.Version} is invalid");
        if (!Names.IsValidIqnLabel(config.NodeName))
            throw Corrupt($"node name '{Names.Printable(config.NodeName)}' is invalid");

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var targets = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var device in config.Devices)
        {
            if (device is null)
                throw Corrupt("a device entry is null");
            if (!Names.IsValidDeviceName(device.Name))
                throw Corrupt($"device name '{Names.Printable(device.Name)}' is invalid");
            if (!names.Add(device.Name))
                throw Corrupt($"device '{device.Name}' appears twice");
            if (!targets.Add(device.Target.Name))
                throw Corrupt($"target '{device.Target.Name}' appears twice");
            if (!IscsiNames.IsValidIqn(device.Target.Name))
                throw Corrupt($"target name '{Names.Printable(device.Target.Name)}' of device '{device.Name}' is invalid");
            switch (device.Type)
            {
                case DeviceTypes.Image when string.IsNullOrEmpty(device.HeaderPath):
                    throw Corrupt($"image device '{device.Name}' has no headerPath");
                case DeviceTypes.Ram when device.Ram is null:
                    throw Corrupt($"RAM device '{device.Name}' has no 'ram' section");
                case DeviceTypes.Image or DeviceTypes.Ram:
                    break;
                default:
                    throw Corrupt($"device '{device.Name}' has unknown type '{Names.Printable(device.Type)}'");
            }

            if (device.Ram is { } ram && (!Devices.DeviceLimits.SectorSizes.Contains(ram.SectorSize) || ram.SizeBytes <= 0 || ram.SizeBytes % ram.SectorSize != 0))
                throw Corrupt($"RAM device '{device.Name}' has an invalid size or sector size");
            ValidateTarget(device);
        }

        if (config.DiscoveryChap is not null)
            Check(() => Devices.DeviceManager.ValidateChap(config.DiscoveryChap, allowMutual: false), "discovery CHAP");
        if (config.Cluster is { } cluster)
        {
            try
            {
                global::Tandem.Replication.Links.ClusterCredentials.Parse(cluster.Id, cluster.Secret);
            }
            catch (FormatException e)
            {
                throw Corrupt($"cluster: {e.Message}");
            }
        }
    }

    private void ValidateTarget(DeviceConfig device)
    {
        var target = device.Target;
        var acl = target.Acl ?? throw Corrupt($"target of device '{device.Name}' has acl null");
        foreach (var initiator in acl.Initiators ?? [])
        {
            if (!IscsiNames.IsValidInitiatorName(initiator))
                throw Corrupt($"ACL of device '{device.Name}' holds an invalid initiator name '{Names.Printable(initiator)}'");
        }

        foreach (var network in acl.Networks ?? [])
            Check(() => Networks.Parse(network), $"ACL of device '{device.Name}'");
        if (target.Chap is not null)
            Check(() => Devices.DeviceManager.ValidateChap(target.Chap, allowMutual: true), $"CHAP of device '{device.Name}'");
    }

    private void Check(Action validate, string what)
    {
        try
        {
            validate();
        }
        catch (TandemException e)
        {
            throw Corrupt($"{what}: {e.Message.TrimEnd('.')}", e);
        }
    }

    private TandemException Corrupt(string why, Exception? inner = null) =>
        new(ErrorCodes.ConfigError,
            $"Configuration file {Path} is corrupt ({why}). Fix or restore it; Tandem will not overwrite it.", inner);
}
