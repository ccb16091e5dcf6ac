using Microsoft.Extensions.Logging;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Storage;

namespace Tandem.Node.Devices;

public sealed partial class DeviceManager
{
    /// <summary>Creates an image or RAM device and publishes its target. Nothing changes when it throws.</summary>
    public Task<ManagedDevice> CreateAsync(CreateDeviceRequest request, CancellationToken ct = default) =>
        Exclusive(() => CreateLockedAsync(request), ct);

    /// <param name="identity">The identity to give the device (a partner copy of an HA device), or null for a new one.</param>
    /// <param name="replication">The replica set of a partner copy, or null.</param>
    private async Task<ManagedDevice> CreateLockedAsync(CreateDeviceRequest request, DeviceIdentity? identity = null, ReplicationHeader? replication = null)
    {
        var plan = Plan(request);
        identity ??= DeviceIdentity.CreateNew();
        if (replication is not null && plan.Type != DeviceTypes.Image)
            throw TandemException.Invalid("Only image devices can be replicated.");
        ManagedDevice device;
        if (plan.Type == DeviceTypes.Ram)
        {
            var config = new DeviceConfig
            {
                Name = plan.Name,
                Type = DeviceTypes.Ram,
                Ram = new RamDeviceConfig
                {
                    SizeBytes = plan.SizeBytes,
                    SectorSize = plan.SectorSize,
                    Naa = identity.NaaHex,
                    Serial = identity.Serial,
                },
                Target = plan.Target,
            };
            device = Online(config, identity, plan.SectorSize, Provisioning.Thick, null, new RamDevice(plan.SizeBytes, plan.SectorSize));
        }
        else
        {
            device = CreateImage(plan, identity, replication);
        }

        try
        {
            // A reservation file left by an earlier device of the same name (crash during remove)
            // must not hand its registrations to this new disk.
            DeleteReservationState(plan.Name);
            SaveConfig(WithDevices(_config, _config.Devices.Append(device.Config)));
        }
        catch
        {
            await CloseDeviceAsync(device);
            if (plan.Type == DeviceTypes.Image)
                DeleteImageFiles(device.ImagePath, device.HeaderPath);
            throw;
        }

        _devices = _devices.Add(device.Name, device);
        Catalog.Add(device.Target!);
        _log.LogInformation("Device {Device} created: {Type}, {SizeBytes} bytes, sector {SectorSize}, {Provisioning}, target {Target}",
            device.Name, device.Type, device.SizeBytes, device.SectorSize, device.Provisioning.ToString().ToLowerInvariant(), device.TargetName);
        return device;
    }

    private ManagedDevice CreateImage(CreatePlan plan, DeviceIdentity identity, ReplicationHeader? replication)
    {
        var imagePath = Path.Combine(plan.Location!, plan.Name + DeviceLimits.ImageExtension);
        var headerPath = Path.Combine(plan.Location!, plan.Name + DeviceLimits.HeaderExtension);
        ImageFileDevice? image = null;
        var headerWritten = false;
        try
        {
            image = ImageFileDevice.Create(imagePath, plan.SizeBytes, plan.SectorSize, plan.Provisioning);
            headerWritten = true; // from here on a (partial) header file would be ours
            DeviceHeaderFile.Create(headerPath, plan.Name, identity, plan.SectorSize, plan.Provisioning, plan.SizeBytes, imagePath, plan.Target.Name, replication);
            var config = new DeviceConfig
            {
                Name = plan.Name,
                Type = DeviceTypes.Image,
                HeaderPath = headerPath,
                Target = plan.Target,
            };
            IBlockDevice device = replication is null ? image : Replicated(config, identity, image, replication);
            return Online(config, identity, plan.SectorSize, plan.Provisioning, imagePath, device);
        }
        catch (Exception e)
        {
            image?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            // Delete only what this call created: if Create refused a file that appeared since
            // Plan() checked, that file belongs to someone else.
            DeleteImageFiles(image is null ? null : imagePath, headerWritten ? headerPath : null);
            if (e is TandemException) throw;
            if (e is IOException or UnauthorizedAccessException)
                throw new TandemException(ErrorCodes.IoError, $"Cannot create image {imagePath}: {e.Message}", e);
            throw;
        }
    }

    private sealed record CreatePlan(string Name, string Type, long SizeBytes, int SectorSize, Provisioning Provisioning,
        string? Location, TargetConfig Target);

    /// <summary>Validates a request completely before anything is touched.</summary>
    private CreatePlan Plan(CreateDeviceRequest request)
    {
        Names.ValidateDeviceName(request.Name);
        var name = request.Name!;
        if (_devices.ContainsKey(name))
            throw new TandemException(ErrorCodes.AlreadyExists, $"A device named '{name}' already exists.");

        var type = (request.Type ?? DeviceTypes.Image).ToLowerInvariant();
        if (type is not (DeviceTypes.Image or DeviceTypes.Ram))
            throw TandemException.Invalid($"Device type '{Names.Printable(request.Type)}' is unknown; use 'image' or 'ram'.");

        var sectorSize = request.SectorSize ?? DeviceLimits.DefaultSectorSize;
        if (!DeviceLimits.SectorSizes.Contains(sectorSize))
            throw new TandemException(ErrorCodes.InvalidArgument,
                $"Sector size {sectorSize} is not supported; use 512 (Linux-based hosts: ESXi, Xen, KVM) or 4096 (Windows).");

        if (request.SizeBytes is not { } size)
            throw new TandemException(ErrorCodes.InvalidSize, "A size (sizeBytes) is required.");
        ValidateSize(size, sectorSize);

        var provisioning = (request.Provisioning?.ToLowerInvariant()) switch
        {
            null or "thick" => Provisioning.Thick,
            "thin" => Provisioning.Thin,
            _ => throw TandemException.Invalid($"Provisioning '{Names.Printable(request.Provisioning)}' is unknown; use 'thick' or 'thin'."),
        };

        string? location = null;
        if (type == DeviceTypes.Ram)
        {
            if (request.Location is not null)
                throw TandemException.Invalid("A RAM device has no location; omit it.");
            if (request.Provisioning is not null)
                throw TandemException.Invalid("A RAM device has no provisioning mode; omit it.");
            var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            if (size > available)
                throw new TandemException(ErrorCodes.InvalidSize,
                    $"A RAM device of {SizeParser.Format(size)} does not fit in the memory available to the node ({SizeParser.Format(available)}).");
        }
        else
        {
            location = ResolveLocation(request.Location);
            foreach (var path in new[] { name + DeviceLimits.ImageExtension, name + DeviceLimits.HeaderExtension }.Select(f => Path.Combine(location, f)))
            {
                if (File.Exists(path) || Directory.Exists(path))
                    throw new TandemException(ErrorCodes.AlreadyExists,
                        $"{path} already exists; Tandem never overwrites an existing file. Choose another name or location, or move the file away.");
            }
        }

        var target = PlanTarget(name, request);
        return new CreatePlan(name, type, size, sectorSize, provisioning, location, target);
    }

    private string ResolveLocation(string? location)
    {
        if (string.IsNullOrWhiteSpace(location))
            return _data.DevicesDirectory;
        string full;
        try
        {
            full = Path.GetFullPath(location);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw TandemException.Invalid($"Location '{Names.Printable(location)}' is not a valid path.");
        }

        if (File.Exists(full))
            throw TandemException.Invalid($"Location {full} is a file, not a folder.");
        if (!Directory.Exists(full))
            throw TandemException.Invalid($"Location {full} does not exist; create the folder first.");
        return full;
    }

    private TargetConfig PlanTarget(string deviceName, CreateDeviceRequest request)
    {
        if (request.TargetName is not null && request.TargetAlias is not null)
            throw TandemException.Invalid("Give either a target alias or a full target name, not both.");

        string alias;
        string targetName;
        if (request.TargetName is not null)
        {
            IscsiNames.ValidateTargetName(request.TargetName);
            targetName = request.TargetName;
            alias = deviceName;
        }
        else
        {
            alias = request.TargetAlias ?? Names.AliasFromDeviceName(deviceName);
            Names.ValidateTargetAlias(alias);
            targetName = $"{Settings.IqnPrefix}:{Settings.NodeName}-{alias}";
            IscsiNames.ValidateTargetName(targetName);
        }

        if (_devices.Values.Any(d => string.Equals(d.TargetName, targetName, StringComparison.OrdinalIgnoreCase)))
            throw new TandemException(ErrorCodes.AlreadyExists, $"A target named '{targetName}' already exists.");
        return new TargetConfig { Name = targetName, Alias = alias };
    }

    internal static void ValidateSize(long size, int sectorSize)
    {
        if (size <= 0)
            throw new TandemException(ErrorCodes.InvalidSize, $"Size {size} is invalid; it must be positive.");
        if (size < DeviceLimits.MinSizeBytes)
            throw new TandemException(ErrorCodes.InvalidSize, $"Size {size} bytes is below the minimum of 1 MiB ({DeviceLimits.MinSizeBytes} bytes).");
        if (size > DeviceLimits.MaxSizeBytes)
            throw new TandemException(ErrorCodes.InvalidSize, $"Size {size} bytes is above the maximum of 1 PiB.");
        if (size % sectorSize != 0)
            throw new TandemException(ErrorCodes.InvalidSize, $"Size {size} bytes is not a multiple of the sector size {sectorSize}.");
    }

    private void DeleteReservationState(string deviceName)
    {
        var path = _data.ReservationStatePath(deviceName);
        if (File.Exists(path))
            File.Delete(path);
    }

    private void DeleteImageFiles(string? imagePath, string? headerPath)
    {
        foreach (var path in new[] { headerPath, imagePath, JournalPathFor(headerPath) })
        {
            if (path is null || !File.Exists(path)) continue;
            try
            {
                File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.LogWarning("Could not delete {Path}: {Error}", path, e.Message);
            }
        }
    }
}
