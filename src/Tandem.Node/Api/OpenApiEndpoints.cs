using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Tandem.Node.Api;

/// <summary>
/// GET /openapi/v1.json: the API described by hand (request bodies are read by <see cref="JsonBody"/>,
/// which generators cannot see), embedded in the assembly. A test checks it lists every route.
/// </summary>
internal static class OpenApiEndpoints
{
    public const string Path = "/openapi/v1.json";

    private static readonly Lazy<byte[]> Document = new(() =>
    {
        using var stream = typeof(OpenApiEndpoints).Assembly.GetManifestResourceStream("Tandem.Node.Api.openapi.json")
            ?? throw new InvalidOperationException("openapi.json is not embedded in Tandem.Node.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static void Map(IEndpointRouteBuilder api) =>
        api.MapGet(Path, () => Results.Bytes(Document.Value, "application/json"));
}
