using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>Source-generated (reflection-free, trimming-safe) JSON for device headers.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(DeviceHeader))]
internal sealed partial class DeviceHeaderJsonContext : JsonSerializerContext;
