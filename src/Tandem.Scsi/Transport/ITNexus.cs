namespace Tandem.Scsi.Transport;

/// <summary>
/// An I_T nexus: one initiator port talking to one target port. In iSCSI that is one session.
/// Reservations, registrations and unit attentions are kept per nexus. Two nexuses are equal
/// when they name the same initiator port and target port (a reinstated session is the same nexus).
/// </summary>
public sealed class ITNexus : IEquatable<ITNexus>
{
    /// <param name="initiatorName">iSCSI initiator name (iqn./eui./naa.).</param>
    /// <param name="isid">The 48-bit initiator session id that, with the name, identifies the initiator port.</param>
    /// <param name="targetName">iSCSI target name.</param>
    /// <param name="portalGroupTag">Target portal group tag of the session.</param>
    /// <param name="relativeTargetPortId">SPC relative target port identifier (unique per node).</param>
    /// <param name="targetPortGroupId">ALUA target port group of the port (one per node).</param>
    public ITNexus(string initiatorName, ulong isid, string targetName, ushort portalGroupTag,
        ushort relativeTargetPortId, ushort targetPortGroupId)
    {
        InitiatorName = initiatorName;
        Isid = isid;
        TargetName = targetName;
        PortalGroupTag = portalGroupTag;
        RelativeTargetPortId = relativeTargetPortId;
        TargetPortGroupId = targetPortGroupId;
        InitiatorPortName = $"{initiatorName},i,0x{isid:x12}";
        TargetPortName = $"{targetName},t,0x{portalGroupTag:x4}";
    }

    public string InitiatorName { get; }
    public ulong Isid { get; }
    public string TargetName { get; }
    public ushort PortalGroupTag { get; }
    public ushort RelativeTargetPortId { get; }
    public ushort TargetPortGroupId { get; }

    /// <summary>iSCSI initiator port name as RFC 7143 §4.2.7 (and SPC TransportID format 01b) spell it.</summary>
    public string InitiatorPortName { get; }

    /// <summary>iSCSI target port name.</summary>
    public string TargetPortName { get; }

    /// <summary>The same initiator port reaching this LU through another target port (e.g. another node).</summary>
    public ITNexus WithTargetPort(ushort relativeTargetPortId, ushort targetPortGroupId) =>
        new(InitiatorName, Isid, TargetName, PortalGroupTag, relativeTargetPortId, targetPortGroupId);

    public bool Equals(ITNexus? other) =>
        other is not null &&
        (ReferenceEquals(this, other) ||
         Isid == other.Isid && PortalGroupTag == other.PortalGroupTag &&
         RelativeTargetPortId == other.RelativeTargetPortId && TargetPortGroupId == other.TargetPortGroupId &&
         string.Equals(InitiatorName, other.InitiatorName, StringComparison.Ordinal) &&
         string.Equals(TargetName, other.TargetName, StringComparison.Ordinal));

    public override bool Equals(object? obj) => Equals(obj as ITNexus);

    public override int GetHashCode() =>
        HashCode.Combine(InitiatorName, Isid, TargetName, PortalGroupTag, RelativeTargetPortId, TargetPortGroupId);

    public override string ToString() => $"{InitiatorPortName} -> {TargetPortName}";
}
