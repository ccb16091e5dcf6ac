namespace Tandem.Scsi.Transport;

/// <summary>
/// An I_T nexus: one initiator port talking to one target port. In iSCSI that is one session.
/// Reservations, registrations and unit attentions are kept per nexus.
/// </summary>
/// <param name="InitiatorName">iSCSI initiator name (iqn./eui./naa.).</param>
/// <param name="Isid">The 48-bit initiator session id that, with the name, identifies the initiator port.</param>
/// <param name="TargetName">iSCSI target name.</param>
/// <param name="PortalGroupTag">Target portal group tag of the session.</param>
/// <param name="RelativeTargetPortId">SPC relative target port identifier (unique per node).</param>
/// <param name="TargetPortGroupId">ALUA target port group of the port (one per node).</param>
public sealed record ITNexus(
    string InitiatorName,
    ulong Isid,
    string TargetName,
    ushort PortalGroupTag,
    ushort RelativeTargetPortId,
    ushort TargetPortGroupId)
{
    private string? _initiatorPortName;
    private string? _targetPortName;

    /// <summary>Copy constructor used by <c>with</c>: copies the identity, not the cached port names.</summary>
    private ITNexus(ITNexus original)
    {
        InitiatorName = original.InitiatorName;
        Isid = original.Isid;
        TargetName = original.TargetName;
        PortalGroupTag = original.PortalGroupTag;
        RelativeTargetPortId = original.RelativeTargetPortId;
        TargetPortGroupId = original.TargetPortGroupId;
    }

    /// <summary>iSCSI initiator port name as RFC 7143 §4.2.7 (and SPC TransportID format 01b) spell it.</summary>
    public string InitiatorPortName => _initiatorPortName ??= $"{InitiatorName},i,0x{Isid:x12}";

    /// <summary>iSCSI target port name.</summary>
    public string TargetPortName => _targetPortName ??= $"{TargetName},t,0x{PortalGroupTag:x4}";
}
