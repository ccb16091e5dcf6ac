using System.Text.Json;
using Tandem.Node.Errors;
using Tandem.Replication.Failover;
using Tandem.Storage;

namespace Tandem.Node.Witness;

/// <summary>
/// <c>witness/&lt;naa&gt;.json</c>: one witness device and its ballot, rewritten atomically
/// (write-temp, fsync, rename, fsync the folder) before a changed decision is answered.
/// </summary>
internal static class WitnessDeviceFile
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>What the file holds; the NAA repeats the file name so that a renamed file is caught.</summary>
    private sealed record Document(string? Naa, string? Device, int? Holder, string? Generation, int? LastHolder);

    public static string PathFor(string directory, string naaHex) => System.IO.Path.Combine(directory, naaHex + ".json");

    public static void Write(string path, string naaHex, string device, WitnessBallotState state)
    {
        var document = new Document(naaHex, device, state.Holder, state.Generation, state.LastHolder);
        AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(document, Json));
    }

    /// <summary>Reads a saved witness device; a file that cannot be trusted is a configuration error (forgetting a vote could let a stale node win).</summary>
    public static (string Naa, string Device, WitnessBallotState State) Read(string path)
    {
        Document? document;
        try
        {
            document = JsonSerializer.Deserialize<Document>(File.ReadAllBytes(path), Json);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"Witness device file {path} cannot be read: {e.Message}", e);
        }

        string expected = System.IO.Path.GetFileNameWithoutExtension(path);
        if (document is null || document.Naa != expected || string.IsNullOrEmpty(document.Device))
            throw new TandemException(ErrorCodes.ConfigError,
                $"Witness device file {path} is not a witness device of NAA {expected}; restore it from a backup or remove the witness device.");
        if (document.Holder is not (null or >= 1 and <= 3) || document.LastHolder is not (null or >= 1 and <= 3)
            || (document.Generation is not null && !WitnessInput.IsGeneration(document.Generation)))
            throw new TandemException(ErrorCodes.ConfigError, $"Witness device file {path} holds an invalid ballot.");
        return (document.Naa, document.Device, new WitnessBallotState(document.Holder, document.Generation, document.LastHolder));
    }
}
