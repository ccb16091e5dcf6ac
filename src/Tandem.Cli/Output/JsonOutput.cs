using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tandem.Cli.Output;

/// <summary>--json: the API's own document, indented for people who also read it.</summary>
public static class JsonOutput
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(TextWriter writer, string json)
    {
        if (string.IsNullOrWhiteSpace(json))
            return;
        try
        {
            writer.WriteLine(JsonNode.Parse(json)?.ToJsonString(Indented) ?? "null");
        }
        catch (JsonException)
        {
            writer.WriteLine(json);
        }
    }
}
