namespace Tandem.Node.Config;

/// <summary>
/// Contents of <c>node.json</c>: everything the node must restore after a restart besides what
/// each device's own header holds. Immutable; a change is a new instance saved atomically.
/// </summary>
public sealed record NodeConfig
{
    /// <summary>Bumped on incompatible changes; older nodes refuse newer files instead of damaging them.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    public required string NodeName { get; init; }
    public IReadOnlyList<DeviceConfig> Devices { get; init; } = [];
    public ChapConfig? DiscoveryChap { get; init; }

    /// <summary>The cluster this node's HA devices belong to; created with the first replica.</summary>
    public ClusterConfig? Cluster { get; init; }
}

/// <summary>Cluster id and the secret that authenticates replication links and node-to-node API calls.</summary>
public sealed record ClusterConfig
{
    public required string Id { get; init; }

    /// <summary>256-bit secret, base64.</summary>
    public required string Secret { get; init; }
}

/// <summary>One device and the target that exposes it as LUN 0.</summary>
public sealed record DeviceConfig
{
    public required string Name { get; init; }

    /// <summary><see cref="DeviceTypes.Image"/> or <see cref="DeviceTypes.Ram"/>.</summary>
    public required string Type { get; init; }

    /// <summary>Image devices: the header file beside the image, which holds identity and geometry.</summary>
    public string? HeaderPath { get; init; }

    /// <summary>RAM devices have no header file: their geometry and identity live here.</summary>
    public RamDeviceConfig? Ram { get; init; }

    public required TargetConfig Target { get; init; }
}

public static class DeviceTypes
{
    public const string Image = "image";
    public const string Ram = "ram";
}

public sealed record RamDeviceConfig
{
    public required long SizeBytes { get; init; }
    public required int SectorSize { get; init; }

    /// <summary>NAA-6 identifier, 32 hex digits.</summary>
    public required string Naa { get; init; }
    public required string Serial { get; init; }
}

public sealed record TargetConfig
{
    public required string Name { get; init; }
    public string? Alias { get; init; }
    public AclConfig Acl { get; init; } = new();
    public ChapConfig? Chap { get; init; }
}

/// <summary>Empty lists allow everyone (the default, as in the commercial product).</summary>
public sealed record AclConfig
{
    public IReadOnlyList<string> Initiators { get; init; } = [];
    public IReadOnlyList<string> Networks { get; init; } = [];
}

/// <summary>CHAP credentials; the mutual pair is what the target answers with (RFC 7143 §12.1.3).</summary>
public sealed record ChapConfig
{
    public required string User { get; init; }
    public required string Secret { get; init; }
    public string? MutualUser { get; init; }
    public string? MutualSecret { get; init; }
}
