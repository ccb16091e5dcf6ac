using Tandem.Replication.Failover;
using Tandem.Storage;

namespace Tandem.Replication.Replicas;

/// <summary>The witness of a two-node, node-majority device (docs/design/failover.md).</summary>
public sealed partial class ReplicatedDevice
{
    /// <summary>
    /// Records a witness for this device (null: removes it) in the header and starts using it.
    /// Called on every data node of the device (the node where the administrator ran
    /// <c>witness add</c> tells its partner).
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is not a two-node, node-majority device.</exception>
    public Task SetWitnessAsync(WitnessHeader? witness)
    {
        throw new NotImplementedException();
    }
}
