using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tandem.Node.Errors;

namespace Tandem.Node.Api;

/// <summary>Reads request bodies ourselves, so malformed JSON is a clear invalid_json error.</summary>
internal static class JsonBody
{
    public static async Task<T> ReadAsync<T>(HttpRequest request) where T : class
    {
        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync<T>(request.Body, ApiJson.RequestOptions, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 1 } ? $" at {e.Path}" : "";
            var why = e.Message.Contains("could not be mapped", StringComparison.Ordinal)
                ? e.Message.Split(". Path", 2)[0]
                : e.InnerException?.Message ?? e.Message.Split(". Path", 2)[0];
            throw new TandemException(ErrorCodes.InvalidJson, $"The request body is not valid JSON for this request{where}: {why}", e);
        }

        return value ?? throw new TandemException(ErrorCodes.InvalidJson, "The request body must be a JSON object, not null.");
    }
}
