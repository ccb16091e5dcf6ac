using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>Cache settings stored in a device header (placeholders until the caches exist).</summary>
public sealed record DeviceCacheSettings
{
    /// <summary>No L1 and no L2 cache.</summary>
    public static DeviceCacheSettings None { get; } = new();

    [JsonRequired]
    [JsonConverter(typeof(StrictEnumConverter<CacheMode>))]
    public CacheMode L1Mode { get; init; } = CacheMode.None;

    /// <summary>L1 cache size in MiB.</summary>
    [JsonRequired]
    public long L1SizeMiB { get; init; }

    /// <summary>L2 (flash) cache file, or null for none.</summary>
    public string? L2Path { get; init; }

    /// <summary>L2 cache size in MiB.</summary>
    [JsonRequired]
    public long L2SizeMiB { get; init; }
}
