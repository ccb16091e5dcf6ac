using Tandem.Replication.Replicas;
using Tandem.Scsi.Alua;

namespace Tandem.Node.HighAvailability;

/// <summary>
/// ALUA of an HA device: one target port group per node (its replica id, which is also its relative
/// target port), with states that follow replication (SPEC §6): serving → active (optimized or
/// non-optimized per node), being synchronized → transitioning, otherwise unavailable. The
/// snapshot is rebuilt on every replica state change; <see cref="Changed"/> fires when a state
/// initiators can see has changed.
/// </summary>
public sealed class ReplicaAlua : IAluaStateProvider
{
    private readonly ReplicatedDevice _device;
    private readonly Lock _lock = new();
    private volatile TargetPortGroupInfo[] _groups;

    public ReplicaAlua(ReplicatedDevice device)
    {
        _device = device;
        _groups = Compute();
        device.StateChanged += Refresh;
    }

    /// <summary>An initiator-visible state changed (raise ASYMMETRIC ACCESS STATE CHANGED).</summary>
    public event Action? Changed;

    public IReadOnlyList<TargetPortGroupInfo> GetTargetPortGroups() => _groups;

    private void Refresh()
    {
        bool changed;
        lock (_lock)
        {
            var next = Compute();
            changed = !next.Select(g => g.State).SequenceEqual(_groups.Select(g => g.State));
            _groups = next;
        }
        if (changed)
            Changed?.Invoke();
    }

    private TargetPortGroupInfo[] Compute() => _device.Header.Nodes
        .OrderBy(n => n.NodeId)
        .Select(n => new TargetPortGroupInfo((ushort)n.NodeId, StateOf(n.NodeId, n.Optimized), n.Optimized, [(ushort)n.NodeId]))
        .ToArray();

    private AluaState StateOf(int nodeId, bool optimized)
    {
        var active = optimized ? AluaState.ActiveOptimized : AluaState.ActiveNonOptimized;
        if (nodeId == _device.LocalId)
        {
            if (_device.IsServing)
                return active;
            return _device.LocalState == ReplicaState.Synchronizing ? AluaState.Transitioning : AluaState.Unavailable;
        }
        var peer = _device.Peers.First(p => p.Id == nodeId);
        if (peer.Sync is not null)
            return AluaState.Transitioning;
        if (peer.Link is { IsUp: true } && peer.ReceivesWrites && peer.RecordedState == ReplicaState.Synchronized &&
            peer.Announced is { Serving: true })
            return active;
        return AluaState.Unavailable;
    }
}
