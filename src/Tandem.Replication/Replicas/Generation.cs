using System.Security.Cryptography;
using System.Text;

namespace Tandem.Replication.Replicas;

/// <summary>
/// Generation identifiers: 64-bit values written as 16 hex digits. A fresh one is random; the one a
/// node moves to when it loses a partner is derived from the old one and the lost node's id, so
/// that the survivors of a three-way set that lose the same partner agree without talking.
/// </summary>
public static class Generation
{
    public static string NewRandom() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public static string AfterLosing(string current, int lostNodeId)
    {
        byte[] hash = SHA256.HashData(Encoding.ASCII.GetBytes($"{current}/lost/{lostNodeId}"));
        return Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }

    /// <summary>Puts <paramref name="old"/> at the head of a history, trimmed to the header's limit.</summary>
    public static IReadOnlyList<string> Push(IReadOnlyList<string> history, string old) =>
        [old, .. history.Where(h => h != old).Take(Storage.ReplicationHeader.MaxHistory - 1)];
}
