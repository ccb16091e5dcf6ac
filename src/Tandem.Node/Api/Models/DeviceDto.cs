namespace Tandem.Node.Api.Models;

/// <summary>A device as the API reports it (GET/POST /api/v1/devices...).</summary>
/// <param name="Type">"image" or "ram".</param>
/// <param name="State">"online", or "offline" when it could not be opened at start (see <paramref name="Error"/>).</param>
/// <param name="Provisioning">"thick" or "thin".</param>
/// <param name="Naa">NAA-6 identifier, 32 lowercase hex digits.</param>
/// <param name="Location">Folder of the image (null for RAM devices).</param>
/// <param name="Sessions">iSCSI sessions logged in to the device's target.</param>
/// <param name="Replication">The replica set of an HA device, or null for a device on this node only.</param>
public sealed record DeviceDto(
    string Name,
    string Type,
    string State,
    string? Error,
    long SizeBytes,
    int SectorSize,
    string Provisioning,
    string TargetName,
    string? TargetAlias,
    string Naa,
    string Serial,
    string? Location,
    string? ImagePath,
    string? HeaderPath,
    long AllocatedBytes,
    int Sessions,
    ReplicaSetDto? Replication = null);

/// <summary>Body of POST /api/v1/devices/{name}/extend.</summary>
public sealed record ExtendDeviceRequest
{
    public long? SizeBytes { get; init; }
}
