namespace Tandem.Replication.Failover;

/// <summary>
/// What a witness accepts from its caller. Generations end up in the witness's records as text,
/// so only plain identifiers pass (Tandem's are 16 hex digits): a space or a line break in one
/// would be a caller's bug, and is refused as such rather than written.
/// </summary>
internal static class WitnessRequestRules
{
    private const int MaxGenerationLength = 64;

    public static void Check(WitnessRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.NodeId < 0)
            throw new ArgumentException($"Replica id {request.NodeId} is negative.", nameof(request));
        CheckGeneration(request.Generation, "generation");
        CheckGeneration(request.NextGeneration, "next generation");
        ArgumentNullException.ThrowIfNull(request.History, nameof(request));
        foreach (string old in request.History)
            CheckGeneration(old, "history entry");
    }

    /// <summary>The device's NAA identifier, lower case: hex digits only (it names the folder on the share).</summary>
    public static string Device(string naaHex)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(naaHex);
        if (naaHex.Length is not (16 or 32) || !naaHex.All(char.IsAsciiHexDigit))
            throw new ArgumentException($"'{naaHex}' is not an NAA identifier (16 or 32 hex digits).", nameof(naaHex));
        return naaHex.ToLowerInvariant();
    }

    private static void CheckGeneration(string? generation, string what)
    {
        // A leading letter or digit also keeps "-", a record's "none", from being a generation.
        if (string.IsNullOrEmpty(generation) || generation.Length > MaxGenerationLength || !char.IsAsciiLetterOrDigit(generation[0]) ||
            !generation.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"The {what} '{generation}' is not a generation identifier (a letter or digit, then letters, digits, '-', '_' or '.'; at most {MaxGenerationLength}).", "request");
        }
    }
}
