using Microsoft.Extensions.Logging;
using Tandem.Replication.Links;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>Everything a <see cref="ReplicatedDevice"/> needs besides its local copy.</summary>
public sealed record ReplicaSetOptions
{
    public required ReplicationHeader Header { get; init; }
    public required ClusterCredentials Cluster { get; init; }

    /// <summary>The device's NAA identifier (16 bytes): names the device on replication links.</summary>
    public required byte[] DeviceNaa { get; init; }

    /// <summary>Saves the replication section of the header (atomically, durably) before returning.</summary>
    public required Func<ReplicationHeader, CancellationToken, Task> Persist { get; init; }

    public LinkTimings Timings { get; init; } = LinkTimings.Default;

    /// <summary>
    /// File for the in-flight journal (<see cref="Sync.InFlightJournal"/>), normally beside the
    /// image; null: none, and a crash of this node makes its partners resync it in full.
    /// </summary>
    public string? JournalPath { get; init; }

    /// <summary>
    /// Opens the witness a header names (a witness node's API, a file-share lease); null: this node
    /// cannot reach witnesses, and a device with one runs as if its witness never answered.
    /// </summary>
    public Func<WitnessHeader, Failover.IWitness>? WitnessFactory { get; init; }

    /// <summary>How long a witness vote holds (tests shorten it; witness nodes use the lease they are given).</summary>
    public TimeSpan WitnessLease { get; init; } = Failover.WitnessLease.Default;

    /// <summary>Resync rate cap in bytes per second (0: none).</summary>
    public long SyncRateLimit { get; init; }

    public ILogger Logger { get; init; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>Name for log messages.</summary>
    public string DeviceName { get; init; } = "";
}
