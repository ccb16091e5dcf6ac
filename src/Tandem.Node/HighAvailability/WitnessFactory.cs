using Tandem.Replication.Failover;
using Tandem.Storage;

namespace Tandem.Node.HighAvailability;

/// <summary>Opens the witness an HA device's header names, for <see cref="Replication.Replicas.ReplicaSetOptions.WitnessFactory"/>.</summary>
public static class WitnessFactory
{
    /// <param name="deviceNaaHex">The HA device's NAA identifier (32 hex digits).</param>
    /// <param name="clusterSecret">The cluster secret (base64): the witness node's password for user <c>cluster</c>.</param>
    /// <param name="fileShareFactory">Opens a file-share witness (header, device NAA); null: this node has none, and such a witness never answers.</param>
    public static IWitness Create(WitnessHeader witness, string deviceNaaHex, string clusterSecret,
        Func<WitnessHeader, string, IWitness>? fileShareFactory)
    {
        if (witness.Address is { Length: > 0 } address)
            return new WitnessNodeClient(address, deviceNaaHex, clusterSecret);
        return fileShareFactory?.Invoke(witness, deviceNaaHex)
            ?? new SilentWitness(witness.ToString(), "this node cannot open file-share witnesses");
    }

    /// <summary>A witness this node cannot reach at all: every request is unanswered (the device runs as if its witness were down).</summary>
    private sealed class SilentWitness(string description, string reason) : IWitness
    {
        public string Description { get; } = description;

        public Task<WitnessAnswer> RequestVoteAsync(WitnessRequest request, CancellationToken cancellationToken) =>
            Task.FromResult(WitnessAnswer.Unreachable($"{Description}: {reason}"));

        public Task ReleaseAsync(int nodeId, CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
