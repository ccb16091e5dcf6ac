using System.Security.Cryptography;

namespace Tandem.Replication.Links;

/// <summary>
/// What nodes of one cluster share: a cluster id and a 256-bit secret, created with the first
/// replica and handed to partners over their authenticated management API. Every replication link
/// proves knowledge of the secret in both directions (HMAC-SHA256 challenge-response), so a node
/// of another cluster, or anyone who can merely reach the port, cannot join.
/// </summary>
public sealed record ClusterCredentials(Guid ClusterId, byte[] Secret)
{
    public const int SecretLength = 32;

    public static ClusterCredentials CreateNew() => new(Guid.NewGuid(), RandomNumberGenerator.GetBytes(SecretLength));

    /// <summary>Parses the stored form: the id and the base64 secret.</summary>
    public static ClusterCredentials Parse(string clusterId, string secretBase64)
    {
        if (!Guid.TryParse(clusterId, out Guid id))
            throw new FormatException($"Cluster id '{clusterId}' is not a GUID.");
        byte[] secret;
        try
        {
            secret = Convert.FromBase64String(secretBase64);
        }
        catch (FormatException)
        {
            throw new FormatException("The cluster secret is not base64.");
        }
        if (secret.Length != SecretLength)
            throw new FormatException($"The cluster secret must be {SecretLength} bytes, not {secret.Length}.");
        return new ClusterCredentials(id, secret);
    }

    public string SecretBase64 => Convert.ToBase64String(Secret);
}
