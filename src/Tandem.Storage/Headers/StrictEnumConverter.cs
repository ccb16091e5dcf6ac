using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>
/// Enums as their lower-case names only: a number or an unknown name in a header is an error, not
/// a silently different setting.
/// </summary>
internal sealed class StrictEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase, allowIntegerValues: false)
    where TEnum : struct, Enum;
