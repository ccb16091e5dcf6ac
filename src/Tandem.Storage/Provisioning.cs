using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>How an image file's space is allocated.</summary>
public enum Provisioning
{
    /// <summary>All space allocated when the device is created or extended; UNMAP zeroes in place.</summary>
    [JsonStringEnumMemberName("thick")]
    Thick,

    /// <summary>Sparse file: space is allocated on first write and released by UNMAP.</summary>
    [JsonStringEnumMemberName("thin")]
    Thin,
}
