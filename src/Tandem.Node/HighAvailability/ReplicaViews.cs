using Tandem.Node.Api.Models;
using Tandem.Replication.Replicas;
using Tandem.Replication.Sync;
using Tandem.Scsi.Alua;

namespace Tandem.Node.HighAvailability;

/// <summary>HA state as the API reports it.</summary>
internal static class ReplicaViews
{
    public static ReplicaSetDto ToDto(string deviceName, ReplicatedDevice device, ReplicaAlua? alua)
    {
        var groups = alua?.GetTargetPortGroups() ?? [];
        var header = device.Header;
        var nodes = header.Nodes.OrderBy(n => n.NodeId).Select(n =>
        {
            string aluaState = AluaText(groups.FirstOrDefault(g => g.Id == n.NodeId)?.State);
            if (n.NodeId == device.LocalId)
            {
                var syncFrom = device.Peers.Select(p => p.Sync).FirstOrDefault(s => s?.TargetNodeId == device.LocalId);
                return new ReplicaNodeDto(n.NodeId, true, n.NodeName, n.Api, n.SyncChannels, n.HeartbeatChannels, LocalState(device),
                    n.Optimized ? "optimized" : "non-optimized", aluaState, n.Priority, true, 0, ToDto(syncFrom));
            }
            var peer = device.Peers.First(p => p.Id == n.NodeId);
            string state = peer.SplitBrain ? ReplicaStateText.SplitBrain
                : peer.Sync is not null ? ReplicaStateText.Synchronizing
                : peer.ReceivesWrites && peer.RecordedState == ReplicaState.Synchronized ? ReplicaStateText.Synchronized
                : ReplicaStateText.NotSynchronized;
            return new ReplicaNodeDto(n.NodeId, false, n.NodeName, n.Api, n.SyncChannels, n.HeartbeatChannels, state,
                n.Optimized ? "optimized" : "non-optimized", aluaState, n.Priority, peer.Link is { IsUp: true },
                peer.ReceivesWrites && peer.Sync is null ? 0 : peer.Bitmap.DirtyBytes, ToDto(peer.Sync), ToDto(peer.LastSync));
        }).ToArray();
        return new ReplicaSetDto(deviceName, LocalState(device), nodes, header.FailoverStrategy, header.Witness?.ToString());
    }

    public static string LocalState(ReplicatedDevice device) =>
        device.Peers.Any(p => p.SplitBrain) ? ReplicaStateText.SplitBrain
        : device.IsServing ? ReplicaStateText.Synchronized
        : device.LocalState == ReplicaState.Synchronizing ? ReplicaStateText.Synchronizing
        : ReplicaStateText.NotSynchronized;

    private static SyncProgressDto? ToDto(SyncProgress? p) => p is null ? null
        : new SyncProgressDto(p.Kind, p.SourceNodeId, p.TargetNodeId, Math.Round(p.Percent, 1), p.BytesDone, p.BytesTotal, p.RateBytesPerSecond,
            p.EtaSeconds is { } eta ? Math.Round(eta, 1) : null);

    private static string AluaText(AluaState? state) => state switch
    {
        AluaState.ActiveOptimized => "active-optimized",
        AluaState.ActiveNonOptimized => "active-non-optimized",
        AluaState.Transitioning => "transitioning",
        AluaState.Standby => "standby",
        AluaState.Offline => "offline",
        _ => "unavailable",
    };
}
