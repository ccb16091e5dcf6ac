using System.Text.Json;
using Tandem.Node.Api.Models;
using Tandem.Storage;

namespace Tandem.Node.HighAvailability;

/// <summary>Node-to-node calls of <c>witness add</c> / <c>witness remove</c>: to the partner, and to the witness node.</summary>
internal sealed partial class PartnerClient
{
    /// <summary>The partner records (or, with null, forgets) the device's witness, as this node did.</summary>
    public Task SetPartnerWitnessAsync(string device, WitnessHeader? witness, CancellationToken ct) =>
        witness is null
            ? SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/replication/partner-devices/{Uri.EscapeDataString(device)}/witness", null, ct)
            : SendAsync<JsonElement>(HttpMethod.Put, $"api/v1/replication/partner-devices/{Uri.EscapeDataString(device)}/witness", witness, ct);

    /// <summary>On a witness node: creates (or finds) the witness device of an HA device.</summary>
    public Task<WitnessDeviceDto> CreateWitnessDeviceAsync(CreateWitnessDeviceRequest request, CancellationToken ct) =>
        SendAsync<WitnessDeviceDto>(HttpMethod.Post, "api/v1/witness/devices", request, ct);

    public Task RemoveWitnessDeviceAsync(string naaHex, CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/witness/devices/{Uri.EscapeDataString(naaHex)}", null, ct);
}
