using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>What backs a device (SPEC §2).</summary>
public enum DeviceType
{
    /// <summary>Virtual disk stored in an image file.</summary>
    [JsonStringEnumMemberName("image")]
    Image,

    /// <summary>Volatile RAM disk.</summary>
    [JsonStringEnumMemberName("ram")]
    Ram,
}

/// <summary>L1 (RAM) cache mode of a device (SPEC §2).</summary>
public enum CacheMode
{
    [JsonStringEnumMemberName("none")]
    None,

    [JsonStringEnumMemberName("write-through")]
    WriteThrough,

    [JsonStringEnumMemberName("write-back")]
    WriteBack,
}
