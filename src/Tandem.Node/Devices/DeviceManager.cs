using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Targets;
using Tandem.Node.HighAvailability;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Scsi;
using Tandem.Replication.Replicas;
using Tandem.Scsi.Alua;
using Tandem.Scsi.LogicalUnits;
using Tandem.Storage;

namespace Tandem.Node.Devices;

/// <summary>
/// Owns the node's devices and their targets: creates, restores, extends and removes them, keeps
/// <c>node.json</c> in step, and publishes targets in the <see cref="TargetCatalog"/>.
/// </summary>
/// <remarks>
/// Changes are serialised by one gate and follow the same order: validate everything, do the work
/// that can fail (files, config save), and only then publish. An error therefore leaves both the
/// running node and the stored configuration as they were.
/// Readers never block: they see an immutable snapshot of the device table.
/// </remarks>
public sealed partial class DeviceManager : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly DataDirectory _data;
    private readonly NodeConfigStore _store;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private ISessionRegistry _sessions = NoSessions.Instance;
    private volatile ImmutableDictionary<string, ManagedDevice> _devices =
        ImmutableDictionary.Create<string, ManagedDevice>(StringComparer.OrdinalIgnoreCase);
    private NodeConfig _config;
    private bool _disposed;

    public DeviceManager(DataDirectory data, NodeConfigStore store, NodeConfig config, NodeIdentitySettings settings,
        ILoggerFactory loggerFactory)
    {
        _data = data;
        _store = store;
        _config = config;
        Settings = settings;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("Tandem.Node.Devices");
        Catalog.DiscoveryChap = ToCredentials(config.DiscoveryChap);
    }

    public TargetCatalog Catalog { get; } = new();
    public NodeIdentitySettings Settings { get; }

    /// <summary>The configuration as last saved.</summary>
    public NodeConfig Config => Volatile.Read(ref _config);

    public IReadOnlyList<ManagedDevice> Devices =>
        _devices.Values.OrderBy(d => d.Name, StringComparer.OrdinalIgnoreCase).ToArray();

    /// <summary>Connects the running iSCSI server (session counts, dropping sessions of removed targets).</summary>
    public void AttachSessions(ISessionRegistry sessions) => _sessions = sessions;

    public ISessionRegistry Sessions => _sessions;

    public ManagedDevice GetDevice(string name) =>
        _devices.TryGetValue(name, out var device) ? device : throw TandemException.NotFound($"Device '{Validation.Names.Printable(name)}'");

    /// <summary>Finds a device by its target's IQN or, for convenience, by the device name.</summary>
    public ManagedDevice GetDeviceByTarget(string targetOrDeviceName)
    {
        var devices = _devices;
        var byTarget = devices.Values.FirstOrDefault(d => string.Equals(d.TargetName, targetOrDeviceName, StringComparison.OrdinalIgnoreCase));
        if (byTarget is not null) return byTarget;
        if (devices.TryGetValue(targetOrDeviceName, out var byName)) return byName;
        throw TandemException.NotFound($"Target '{Validation.Names.Printable(targetOrDeviceName)}'");
    }

    public int SessionCount(string targetName) =>
        _sessions.GetSessions().Count(s => string.Equals(s.TargetName, targetName, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Opens every configured device. A device whose image or header is missing or cannot be
    /// opened is logged and kept (offline) so that its configuration survives until the
    /// administrator decides; a corrupt header throws config_error naming the file.
    /// </summary>
    public async Task RestoreAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            foreach (var config in _config.Devices)
            {
                var device = await OpenAsync(config);
                _devices = _devices.Add(device.Name, device);
                if (device.Target is not null)
                    Catalog.Add(device.Target);
                if (device.Error is null)
                    _log.LogInformation("Device {Device} restored: {Type}, {SizeBytes} bytes, target {Target}",
                        device.Name, device.Type, device.SizeBytes, device.TargetName);
                else
                    _log.LogError("Device {Device} is offline: {Error}", device.Name, device.Error);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Opens one configured device. A missing header or an image that cannot be opened yields an
    /// offline device carrying the reason; a corrupt header or identity throws config_error.
    /// </summary>
    private async Task<ManagedDevice> OpenAsync(DeviceConfig config)
    {
        DeviceIdentity identity;
        int sectorSize;
        Provisioning provisioning;
        long sizeBytes;
        string? imagePath = null;
        ReplicationHeader? replication = null;
        try
        {
            if (config.Type == DeviceTypes.Ram)
            {
                var ram = config.Ram!;
                identity = DeviceIdentity.Parse(ram.Naa, ram.Serial, $"{_store.Path} (device '{config.Name}')");
                (sectorSize, provisioning, sizeBytes) = (ram.SectorSize, Provisioning.Thick, ram.SizeBytes);
            }
            else
            {
                var header = DeviceHeaderFile.Read(config.HeaderPath!);
                if (!string.Equals(header.Name, config.Name, StringComparison.Ordinal))
                    throw new TandemException(ErrorCodes.ConfigError,
                        $"Device header {config.HeaderPath} belongs to device '{header.Name}', not '{config.Name}'.");
                (identity, sectorSize, provisioning, sizeBytes, imagePath, replication) =
                    (header.Identity, header.SectorSize, header.Provisioning, header.SizeBytes, header.ImagePath, header.Replication);
            }
        }
        catch (TandemException e) when (e.Code != ErrorCodes.ConfigError)
        {
            // Missing or unreadable header (e.g. its disk is not mounted): keep the device, offline.
            // A corrupt header is a configuration error and stops the start (RestoreAsync's caller).
            return new ManagedDevice(config, new DeviceIdentity(new byte[DeviceIdentity.NaaLength], ""), 0, Provisioning.Thick, 0, null)
            {
                Error = e.Message,
            };
        }

        IBlockDevice? device = null;
        try
        {
            device = config.Type == DeviceTypes.Ram
                ? new RamDevice(sizeBytes, sectorSize)
                : ImageFileDevice.Open(imagePath!, sectorSize, provisioning);
            if (replication is not null)
                device = Replicated(config, identity, device, replication);
            return Online(config, identity, sectorSize, provisioning, imagePath, device);
        }
        catch (Exception e)
        {
            if (device is not null) await device.DisposeAsync();
            var what = imagePath is null ? "cannot start RAM device" : $"cannot open image {imagePath}";
            return new ManagedDevice(config, identity, sectorSize, provisioning, sizeBytes, imagePath) { Error = $"{what}: {e.Message}" };
        }
    }

    /// <summary>Wires a block device into a logical unit, a SCSI target and an iSCSI target definition.</summary>
    private ManagedDevice Online(DeviceConfig config, DeviceIdentity identity, int sectorSize, Provisioning provisioning,
        string? imagePath, IBlockDevice device)
    {
        var replicated = device as ReplicatedDevice;
        var alua = replicated is null ? null : new ReplicaAlua(replicated);
        var sharing = replicated is null ? null : new ReplicaReservations(replicated, _loggerFactory.CreateLogger("Tandem.Replication." + config.Name));
        var unit = new ScsiLogicalUnit(
            device,
            new LogicalUnitIdentity(identity.Naa, identity.Serial, Settings.Vendor, Settings.Product),
            new LogicalUnitOptions
            {
                ReservationStatePath = _data.ReservationStatePath(config.Name),
                Logger = _loggerFactory.CreateLogger("Tandem.Scsi.LogicalUnit." + config.Name),
                Alua = alua is null ? new SingleNodeAlua() : alua,
                ReservationSharing = sharing,
            });
        var scsiTarget = new ScsiTarget(_loggerFactory.CreateLogger<ScsiTarget>());
        scsiTarget.AddLogicalUnit(0, unit);
        var target = new IscsiTargetDefinition
        {
            Name = config.Target.Name,
            Alias = config.Target.Alias,
            Scsi = scsiTarget,
            Access = ToPolicy(config.Target),
            TargetPort = replicated is null ? null : new TargetPortIdentity((ushort)replicated.LocalId, (ushort)replicated.LocalId),
        };
        if (replicated is not null)
        {
            alua!.Changed += unit.NotifyAsymmetricAccessStateChanged;
            sharing!.Attach(unit);
            replicated.Resized += () => OnPartnerExtended(config, unit, replicated);
            replicated.Start();
        }
        return new ManagedDevice(config, identity, sectorSize, provisioning, device.BlockCount * device.BlockSize, imagePath)
        {
            Device = device,
            LogicalUnit = unit,
            Target = target,
        };
    }

    /// <summary>Saves the configuration with one device entry replaced/added/removed; throws before anything changes.</summary>
    private void SaveConfig(NodeConfig config)
    {
        _store.Save(config);
        Volatile.Write(ref _config, config);
    }

    private static NodeConfig WithDevices(NodeConfig config, IEnumerable<DeviceConfig> devices) =>
        config with { Devices = devices.OrderBy(d => d.Name, StringComparer.OrdinalIgnoreCase).ToArray() };

    private async Task<T> Exclusive<T>(Func<Task<T>> action, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return await action();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Flushes and closes every device (clean shutdown). Targets are unpublished first.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var device in _devices.Values)
            {
                if (device.Target is not null)
                    Catalog.Remove(device.Target.Name);
                await CloseDeviceAsync(device);
            }

            _devices = _devices.Clear();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task CloseDeviceAsync(ManagedDevice device)
    {
        if (device.Device is null) return;
        try
        {
            await device.Device.FlushAsync();
        }
        catch (Exception e)
        {
            _log.LogError(e, "Flushing device {Device} failed", device.Name);
        }

        try
        {
            await device.Device.DisposeAsync();
        }
        catch (Exception e)
        {
            _log.LogError(e, "Closing device {Device} failed", device.Name);
        }
    }
}
