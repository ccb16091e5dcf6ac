namespace Tandem.Replication.Links;

/// <summary>A replication handshake was refused (other cluster, failed authentication, unknown device).</summary>
public sealed class ReplicationRejectedException(string message) : Exception(message);
