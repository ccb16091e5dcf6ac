using Tandem.Replication.Links;

namespace Tandem.Replication.Failover;

/// <summary>
/// The failover timers, all derived from the link timings so that one setting moves them together
/// (docs/design/failover.md, "Timers").
/// </summary>
public static class FailoverTimings
{
    /// <summary>How long a probe or fence on a heartbeat channel may take to be answered.</summary>
    public static TimeSpan ProbeTimeout(LinkTimings timings) => timings.HeartbeatInterval * 4;

    /// <summary>
    /// How long after its sync link to a partner went down a node waits before it completes
    /// writes without that partner, unless the partner confirmed it stopped serving. The partner
    /// stops at the latest one link timeout after the last frame it received from us, and we sent
    /// nothing after our link went down; one heartbeat interval covers delivery and timer slack.
    /// </summary>
    public static TimeSpan PartnerSurelyBlocked(LinkTimings timings) => timings.Timeout + timings.HeartbeatInterval;

    /// <summary>How long a node that lost a partner waits at start-up for it before it asks the witness.</summary>
    public static TimeSpan StartupGrace(LinkTimings timings) => timings.Timeout;
}
