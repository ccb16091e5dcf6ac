using System.Security.Cryptography;
using System.Text;

namespace Tandem.Iscsi.Login;

/// <summary>CHAP digest algorithms by their CHAP_A number (RFC 1994 / RFC 7143 §12.1.3; 7 = SHA-256 as Linux uses it).</summary>
internal enum ChapAlgorithm
{
    Md5 = 5,
    Sha256 = 7,
}

/// <summary>CHAP arithmetic: response = H(identifier || secret || challenge) (RFC 1994 §4.1).</summary>
internal static class Chap
{
    /// <summary>Our algorithms in order of preference when the initiator offers several... its order wins (RFC 7143 §6.2).</summary>
    public static bool TryParseAlgorithm(string value, out ChapAlgorithm algorithm)
    {
        algorithm = default;
        switch (value)
        {
            case "5": algorithm = ChapAlgorithm.Md5; return true;
            case "7": algorithm = ChapAlgorithm.Sha256; return true;
            default: return false;
        }
    }

    /// <summary>Challenge length we send: as long as the digest, which RFC 7143 §12.1.3 recommends at least.</summary>
    public static int ChallengeLength(ChapAlgorithm algorithm) => DigestLength(algorithm);

    public static int DigestLength(ChapAlgorithm algorithm) => algorithm == ChapAlgorithm.Md5 ? 16 : 32;

    /// <summary>Implementation limit: challenges we accept from an initiator (mutual CHAP), in bytes.</summary>
    public const int MaxChallengeLength = 1024;

    public static byte[] ComputeResponse(ChapAlgorithm algorithm, byte identifier, string secret, ReadOnlySpan<byte> challenge)
    {
        byte[] secretBytes = Encoding.UTF8.GetBytes(secret);
        byte[] input = new byte[1 + secretBytes.Length + challenge.Length];
        input[0] = identifier;
        secretBytes.CopyTo(input, 1);
        challenge.CopyTo(input.AsSpan(1 + secretBytes.Length));
        return algorithm == ChapAlgorithm.Md5 ? MD5.HashData(input) : SHA256.HashData(input);
    }

    public static bool Verify(ChapAlgorithm algorithm, byte identifier, string secret, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> response)
    {
        byte[] expected = ComputeResponse(algorithm, identifier, secret, challenge);
        return response.Length == expected.Length && CryptographicOperations.FixedTimeEquals(expected, response);
    }
}

/// <summary>
/// Challenges this node issued recently. An initiator that sends one of them back as its own mutual
/// challenge is trying a reflection attack (RFC 7143 §12.1.3) and is refused.
/// </summary>
internal sealed class ChapChallengeHistory
{
    /// <summary>Implementation limit: remembered challenges (covers every login in flight on a busy node).</summary>
    private const int Capacity = 1024;

    private readonly Queue<string> _order = new();
    private readonly HashSet<string> _set = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public byte[] NewChallenge(int length)
    {
        byte[] challenge = RandomNumberGenerator.GetBytes(length);
        string key = Convert.ToHexString(challenge);
        lock (_lock)
        {
            if (_set.Add(key))
            {
                _order.Enqueue(key);
                if (_order.Count > Capacity)
                    _set.Remove(_order.Dequeue());
            }
        }
        return challenge;
    }

    public bool WasIssued(ReadOnlySpan<byte> challenge)
    {
        string key = Convert.ToHexString(challenge);
        lock (_lock)
            return _set.Contains(key);
    }
}
