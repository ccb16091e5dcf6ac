namespace Tandem.Replication.Links;

/// <summary>How often a link proves itself alive, and how long silence means the peer is gone.</summary>
public sealed record LinkTimings(TimeSpan HeartbeatInterval, TimeSpan Timeout, TimeSpan ReconnectDelay, TimeSpan HandshakeTimeout)
{
    /// <summary>Defaults: heartbeat every 500 ms, a partner silent for 5 s is lost, redial every second.</summary>
    public static LinkTimings Default { get; } = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
}
