using Microsoft.Extensions.Logging;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Storage;

namespace Tandem.Node.Devices;

public sealed partial class DeviceManager
{
    /// <summary>
    /// Grows a device online. Initiators get CAPACITY DATA HAS CHANGED; shrinking is refused because
    /// it would cut off data a file system still uses.
    /// </summary>
    public Task<ManagedDevice> ExtendAsync(string name, long? newSizeBytes, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            if (!device.IsOnline)
                throw new TandemException(ErrorCodes.DeviceUnavailable, $"Device '{device.Name}' is offline ({device.Error}).");
            if (newSizeBytes is not { } size)
                throw new TandemException(ErrorCodes.InvalidSize, "A new size (sizeBytes) is required.");
            ValidateSize(size, device.SectorSize);
            var current = device.SizeBytes;
            if (size <= current)
                throw new TandemException(ErrorCodes.InvalidSize,
                    $"New size {size} bytes is not larger than the current size {current} bytes; devices can only grow.");
            if (device.Type == DeviceTypes.Ram)
            {
                var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
                if (size > available)
                    throw new TandemException(ErrorCodes.InvalidSize,
                        $"A RAM device of {SizeParser.Format(size)} does not fit in the memory available to the node ({SizeParser.Format(available)}).");
            }

            try
            {
                await device.Device!.ResizeAsync(size / device.SectorSize);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TandemException(ErrorCodes.IoError, $"Cannot extend device '{device.Name}': {e.Message}", e);
            }
            catch (InvalidOperationException e)
            {
                // An HA device grows on every node at once; a partner that is away blocks it.
                throw new TandemException(ErrorCodes.ReplicaState, $"Cannot extend device '{device.Name}': {e.Message}", e);
            }

            // The device has grown: initiators must hear about it whatever happens next. Should
            // recording the size fail, the larger device keeps working and the next start reopens
            // the (larger) image, so report the error but do not undo.
            device.ConfiguredSizeBytes = size;
            device.LogicalUnit!.NotifyCapacityChanged();
            if (device.Type == DeviceTypes.Ram)
            {
                var config = device.Config with { Ram = device.Config.Ram! with { SizeBytes = size } };
                SaveConfig(WithDevices(_config, _config.Devices.Select(d => d.Name == device.Name ? config : d)));
                device.Config = config;
            }
            else
            {
                DeviceHeaderFile.UpdateSize(device.HeaderPath!, size);
            }

            _log.LogInformation("Device {Device} extended from {OldSizeBytes} to {SizeBytes} bytes", device.Name, current, size);
            return device;
        }, ct);

    /// <summary>
    /// Removes a device: unpublishes its target, drops its sessions, flushes and closes it.
    /// The image and header are deleted only when <paramref name="deleteImage"/> is set.
    /// </summary>
    public Task<ManagedDevice> RemoveAsync(string name, bool deleteImage, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            SaveConfig(WithDevices(_config, _config.Devices.Where(d => d.Name != device.Name)));
            _devices = _devices.Remove(device.Name);
            await UnpublishAsync(device);

            await CloseDeviceAsync(device);
            try
            {
                DeleteReservationState(device.Name);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.LogWarning("Could not delete reservation state of {Device}: {Error}", device.Name, e.Message);
            }

            if (deleteImage && device.Type == DeviceTypes.Image)
                DeleteImageFiles(device.ImagePath, device.HeaderPath);
            _log.LogInformation("Device {Device} removed (target {Target}); image {ImageAction}", device.Name, device.TargetName,
                device.Type == DeviceTypes.Ram ? "n/a (RAM)" : deleteImage ? "deleted" : "kept");
            return device;
        }, ct);

    /// <summary>Implementation limit: how long removal waits for dropped sessions to finish their commands.</summary>
    private static readonly TimeSpan SessionDrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Lets commands of dropped sessions finish before the device under them is closed.</summary>
    /// <summary>Takes the device's target out of discovery and login, and drops its sessions.</summary>
    private async Task UnpublishAsync(ManagedDevice device)
    {
        if (device.Target is null)
            return;
        Catalog.Remove(device.Target.Name);
        _sessions.CloseSessions(device.Target.Name);
        await WaitForSessionsToEndAsync(device.Target.Name);
    }

    private async Task WaitForSessionsToEndAsync(string targetName)
    {
        var deadline = DateTime.UtcNow + SessionDrainTimeout;
        while (SessionCount(targetName) > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                _log.LogWarning("Sessions of {Target} did not end within {Timeout}; closing the device anyway", targetName, SessionDrainTimeout);
                return;
            }

            await Task.Delay(20);
        }
    }
}
