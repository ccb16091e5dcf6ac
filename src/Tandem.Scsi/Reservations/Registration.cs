using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Reservations;

/// <summary>
/// A reservation key registered for an initiator port (or every port of an initiator, when the
/// registration came from a TransportID without ISID) through one target port (or all of them,
/// with ALL_TG_PT).
/// </summary>
/// <param name="InitiatorName">iSCSI initiator name; compared case-insensitively (RFC 3722 names are case-folded).</param>
/// <param name="Isid">Initiator session id of the port, or null for every port of the initiator.</param>
/// <param name="RelativeTargetPortId">Target port the registration was made through, or null for all target ports.</param>
/// <param name="Key">The reservation key.</param>
public sealed record Registration(string InitiatorName, ulong? Isid, ushort? RelativeTargetPortId, ulong Key)
{
    public bool Matches(ITNexus nexus) =>
        string.Equals(InitiatorName, nexus.InitiatorName, StringComparison.OrdinalIgnoreCase)
        && (Isid is null || Isid == nexus.Isid)
        && (RelativeTargetPortId is null || RelativeTargetPortId == nexus.RelativeTargetPortId);

    /// <summary>True when this and <paramref name="other"/> name the same I_T nexus set.</summary>
    public bool SameNexusAs(Registration other) =>
        string.Equals(InitiatorName, other.InitiatorName, StringComparison.OrdinalIgnoreCase)
        && Isid == other.Isid && RelativeTargetPortId == other.RelativeTargetPortId;
}
