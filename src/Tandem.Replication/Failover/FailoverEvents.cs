using Microsoft.Extensions.Logging;

namespace Tandem.Replication.Failover;

/// <summary>
/// Stable event ids of the failover log lines (SPEC §7 "Observability"): the event log and
/// monitoring match on these numbers, never on the text.
/// </summary>
public static class FailoverEvents
{
    public static readonly EventId ChannelUp = new(1301, "channel-up");
    public static readonly EventId ChannelDown = new(1302, "channel-down");
    public static readonly EventId AllChannelsLost = new(1303, "all-channels-lost");
    public static readonly EventId QuorumLost = new(1304, "quorum-lost");
    public static readonly EventId QuorumRegained = new(1305, "quorum-regained");
    public static readonly EventId DeviceBlocked = new(1306, "device-blocked");
    public static readonly EventId DeviceUnblocked = new(1307, "device-unblocked");
    public static readonly EventId SplitBrainRisk = new(1308, "split-brain-risk");
    public static readonly EventId FewHeartbeatChannels = new(1309, "few-heartbeat-channels");
    public static readonly EventId Fenced = new(1310, "fenced");
    public static readonly EventId ContinuesAlone = new(1311, "continues-alone");
    public static readonly EventId WitnessVote = new(1312, "witness-vote");
}
