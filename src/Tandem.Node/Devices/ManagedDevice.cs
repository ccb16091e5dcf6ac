using Tandem.Iscsi.Targets;
using Tandem.Node.Config;
using Tandem.Scsi.LogicalUnits;
using Tandem.Storage;

namespace Tandem.Node.Devices;

/// <summary>
/// One device as the node runs it: its configuration, the open block device, the SCSI logical unit
/// over it and the iSCSI target publishing it. A device whose image could not be opened at start
/// stays listed with <see cref="Error"/> set (and no target), so the administrator sees it and can
/// fix or remove it; its configuration is never dropped silently.
/// </summary>
public sealed class ManagedDevice
{
    internal ManagedDevice(DeviceConfig config, DeviceIdentity identity, int sectorSize, Provisioning provisioning,
        long configuredSizeBytes, string? imagePath)
    {
        Config = config;
        Identity = identity;
        SectorSize = sectorSize;
        Provisioning = provisioning;
        ConfiguredSizeBytes = configuredSizeBytes;
        ImagePath = imagePath;
    }

    public DeviceConfig Config { get; internal set; }
    public string Name => Config.Name;
    public string Type => Config.Type;
    public string TargetName => Config.Target.Name;
    public DeviceIdentity Identity { get; }
    public int SectorSize { get; }
    public Provisioning Provisioning { get; }
    public string? ImagePath { get; }
    public string? HeaderPath => Config.HeaderPath;
    public string? Location => ImagePath is null ? null : Path.GetDirectoryName(ImagePath);

    /// <summary>Size recorded in the header/config; the live size when the device is open.</summary>
    internal long ConfiguredSizeBytes { get; set; }

    public IBlockDevice? Device { get; internal init; }
    public ScsiLogicalUnit? LogicalUnit { get; internal init; }
    public IscsiTargetDefinition? Target { get; internal init; }

    /// <summary>Why the device is not being served (restore failure), or null when online.</summary>
    public string? Error { get; internal init; }

    public bool IsOnline => Device is not null && Error is null;

    public long SizeBytes => Device is { } d ? d.BlockCount * d.BlockSize : ConfiguredSizeBytes;

    public long AllocatedBytes => Device switch
    {
        ImageFileDevice image => SafeAllocated(image),
        RamDevice ram => ram.AllocatedBytes,
        _ => 0,
    };

    private static long SafeAllocated(ImageFileDevice image)
    {
        try
        {
            return image.AllocatedBytes;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return 0;
        }
    }
}
