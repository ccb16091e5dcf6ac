using Tandem.Node.Api.Models;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Replication.Failover;
using Tandem.Storage;

namespace Tandem.Node.Witness;

/// <summary>Checks what data nodes send a witness node, so that a bad request is a clear invalid_argument and never reaches a ballot.</summary>
internal static class WitnessInput
{
    /// <summary>An HA device's NAA identifier as 32 hex digits, lowercased (the witness device's key and file name).</summary>
    public static string ParseNaa(string? text)
    {
        var naa = text?.Trim() ?? "";
        if (naa.Length != 32 || !naa.All(char.IsAsciiHexDigit))
            throw TandemException.Invalid($"NAA identifier '{Names.Printable(naa)}' is not 32 hex digits.");
        return naa.ToLowerInvariant();
    }

    public static int ParseNodeId(int? nodeId) =>
        nodeId switch
        {
            null => throw TandemException.Invalid("nodeId is required."),
            < 1 or > 3 => throw TandemException.Invalid($"nodeId {nodeId} is not a replica id (1-3)."),
            _ => nodeId.Value,
        };

    public static WitnessRequest ToRequest(WitnessVoteRequest body)
    {
        int nodeId = ParseNodeId(body.NodeId);
        string generation = Generation(body.Generation, "generation");
        string next = Generation(body.NextGeneration, "nextGeneration");
        if (body.History is not { } history)
            throw TandemException.Invalid("history is required (earlier generations, newest first; [] for none).");
        if (history.Count > ReplicationHeader.MaxHistory)
            throw TandemException.Invalid($"history holds {history.Count} generations; at most {ReplicationHeader.MaxHistory}.");
        for (int i = 0; i < history.Count; i++)
            Generation(history[i], $"history[{i}]");
        return new WitnessRequest(nodeId, generation, [.. history], next, body.Force ?? false);
    }

    public static bool IsGeneration(string? value) => value is { Length: 16 } && value.All(char.IsAsciiHexDigit);

    private static string Generation(string? value, string field)
    {
        if (value is null)
            throw TandemException.Invalid($"{field} is required.");
        if (!IsGeneration(value))
            throw TandemException.Invalid($"{field} '{Names.Printable(value)}' is not a generation (16 hex digits).");
        return value;
    }
}
