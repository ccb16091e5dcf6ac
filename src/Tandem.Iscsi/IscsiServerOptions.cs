namespace Tandem.Iscsi;

/// <summary>Settings of an <see cref="IscsiServer"/>.</summary>
public sealed class IscsiServerOptions
{
    /// <summary>Target portal group tag of every portal of this server (RFC 7143 §4.4.1), reported at login and discovery.</summary>
    public ushort PortalGroupTag { get; init; } = 1;

    /// <summary>SPC relative target port identifier of this node's port (unique per node).</summary>
    public ushort RelativeTargetPortId { get; init; } = 1;

    /// <summary>ALUA target port group of this node.</summary>
    public ushort TargetPortGroupId { get; init; } = 1;

    /// <summary>Idle time after which the target pings the initiator with a NOP-In; zero disables keep-alive.</summary>
    public TimeSpan NopInInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time the initiator has to answer a NOP-In ping before the connection is dropped.</summary>
    public TimeSpan NopInTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time a new connection has to complete its login; after it the connection is dropped.</summary>
    public TimeSpan LoginTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Sessions (normal and discovery) the server accepts at once; more logins get "out of resources".</summary>
    public int MaxSessions { get; init; } = 1024;
}
