namespace Tandem.Node.Devices;

/// <summary>
/// What the administrator asks for when creating a device (API body of POST /api/v1/devices).
/// Everything is optional at this level so that missing fields get a clear validation error
/// instead of a JSON error.
/// </summary>
public sealed record CreateDeviceRequest
{
    public string? Name { get; init; }

    /// <summary>"image" (default) or "ram".</summary>
    public string? Type { get; init; }

    public long? SizeBytes { get; init; }

    /// <summary>Image devices: folder for the image and header; must exist. Default: data dir's devices/.</summary>
    public string? Location { get; init; }

    /// <summary>"thick" (default) or "thin".</summary>
    public string? Provisioning { get; init; }

    /// <summary>Logical sector size, 512 (default) or 4096.</summary>
    public int? SectorSize { get; init; }

    /// <summary>Alias used in the generated target name &lt;prefix&gt;:&lt;node&gt;-&lt;alias&gt;; default: the device name.</summary>
    public string? TargetAlias { get; init; }

    /// <summary>Full target IQN; excludes <see cref="TargetAlias"/>.</summary>
    public string? TargetName { get; init; }
}
