using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tandem.Node.Api;

/// <summary>JSON settings of the management API (camelCase, as every document in it).</summary>
public static class ApiJson
{
    /// <summary>Responses (and what clients use to read them): unknown fields are ignored for forward compatibility.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        // API documents are never embedded in HTML; keep messages readable ("device 'x'", not "device \u0027x\u0027").
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Request bodies: unknown fields are refused, so a typo ("size" for "sizeBytes") is an error
    /// instead of a silently ignored setting.
    /// </summary>
    public static JsonSerializerOptions RequestOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
    };
}
