using Tandem.Node.Errors;
using Tandem.Storage;

namespace Tandem.Node.Devices;

/// <summary>What the node needs from an image device's header file.</summary>
internal sealed record DeviceHeaderInfo(string Name, DeviceIdentity Identity, int SectorSize, Provisioning Provisioning,
    long SizeBytes, string ImagePath, string TargetName, ReplicationHeader? Replication);

/// <summary>Reads and writes image device headers (<see cref="DeviceHeader"/>), mapping their errors to ours.</summary>
internal static class DeviceHeaderFile
{
    /// <exception cref="TandemException">
    /// config_error when the header is corrupt (the node must not start on a configuration it
    /// cannot read); device_unavailable when it is missing or unreadable (disk not mounted, permissions).
    /// </exception>
    public static DeviceHeaderInfo Read(string headerPath)
    {
        DeviceHeader header;
        try
        {
            header = DeviceHeader.Load(headerPath);
        }
        catch (InvalidDataException e)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"{e.Message} Fix or restore it; Tandem will not overwrite it.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.DeviceUnavailable, $"Cannot read device header {headerPath}: {e.Message}", e);
        }

        if (header.Type != DeviceType.Image)
            throw new TandemException(ErrorCodes.ConfigError, $"Device header {headerPath} describes a {header.Type} device, not an image.");
        var identity = DeviceIdentity.Parse(header.Naa, header.Serial, $"Device header {headerPath}");
        return new DeviceHeaderInfo(header.Name, identity, header.SectorSize, header.Provisioning, header.SizeBytes,
            header.ResolveImagePath(headerPath)!, header.TargetName, header.Replication);
    }

    public static void Create(string headerPath, string name, DeviceIdentity identity, int sectorSize, Provisioning provisioning,
        long sizeBytes, string imagePath, string targetName, ReplicationHeader? replication = null)
    {
        var header = new DeviceHeader
        {
            Name = name,
            Type = DeviceType.Image,
            ImageFile = Path.GetFileName(imagePath),
            SizeBytes = sizeBytes,
            SectorSize = sectorSize,
            Provisioning = provisioning,
            Naa = identity.NaaHex,
            Serial = identity.Serial,
            TargetName = targetName,
            CreatedUtc = DateTimeOffset.UtcNow,
            Replication = replication,
        };
        Save(header, headerPath);
    }

    /// <summary>Records a new size, keeping everything else the header holds (cache settings, HA links).</summary>
    public static void UpdateSize(string headerPath, long sizeBytes) => Update(headerPath, h => h with { SizeBytes = sizeBytes });

    /// <summary>Records the replication state (null: the device is no longer replicated).</summary>
    public static void UpdateReplication(string headerPath, ReplicationHeader? replication) => Update(headerPath, h => h with { Replication = replication });

    private static readonly Lock UpdateLock = new();

    private static void Update(string headerPath, Func<DeviceHeader, DeviceHeader> change)
    {
        lock (UpdateLock)
            UpdateLocked(headerPath, change);
    }

    private static void UpdateLocked(string headerPath, Func<DeviceHeader, DeviceHeader> change)
    {
        DeviceHeader header;
        try
        {
            header = DeviceHeader.Load(headerPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new TandemException(ErrorCodes.IoError, $"Cannot update device header {headerPath}: {e.Message}", e);
        }

        Save(change(header), headerPath);
    }

    private static void Save(DeviceHeader header, string headerPath)
    {
        try
        {
            header.Save(headerPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new TandemException(ErrorCodes.IoError, $"Cannot write device header {headerPath}: {e.Message}", e);
        }
    }
}
