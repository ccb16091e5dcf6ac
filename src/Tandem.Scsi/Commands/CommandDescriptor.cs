using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>Executes one command against a logical unit; sets status, sense and transfer length on the command.</summary>
public delegate ValueTask CommandHandler(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken);

/// <summary>How a command fares against persistent reservations (SPC-4 §5.12.1, table "SPC commands allowed in the presence of various reservations").</summary>
public enum ReservationAccess
{
    /// <summary>Never conflicts (INQUIRY, REPORT LUNS, PERSISTENT RESERVE IN/OUT, ...).</summary>
    Allowed,
    /// <summary>Reads the medium or its state: conflicts only under exclusive-access types.</summary>
    Read,
    /// <summary>Changes the medium or its state: conflicts under every type for non-holders.</summary>
    Write,
}

[Flags]
public enum CommandFlags
{
    None = 0,
    /// <summary>INQUIRY, REPORT LUNS, REQUEST SENSE: neither report nor clear unit attentions (SAM-5 §5.14).</summary>
    IgnoresUnitAttention = 1 << 0,
    /// <summary>Allowed while another nexus holds a RESERVE(6/10) reservation (SPC-2 §5.5.1).</summary>
    AllowedUnderSpc2Reservation = 1 << 1,
    /// <summary>Allowed in the ALUA standby state (SPC-4 §5.15.2.4.4).</summary>
    AllowedInStandby = 1 << 2,
    /// <summary>Allowed in the ALUA unavailable, transitioning and offline states (SPC-4 §5.15.2.4.5).</summary>
    AllowedWhenUnavailable = 1 << 3,
    /// <summary>Only offered on thin-provisioned logical units (UNMAP).</summary>
    ThinOnly = 1 << 4,
    /// <summary>Changes the medium: refused while the logical unit is write-protected.</summary>
    WritesMedium = 1 << 5,
}

/// <summary>
/// Everything the dispatcher and REPORT SUPPORTED OPERATION CODES need to know about one
/// command: how to run it, which CDB bits it evaluates, and how it meets reservations and ALUA.
/// </summary>
/// <param name="UsageMask">
/// CDB usage data (SPC-4 §6.35.3): byte 0 is the opcode; every other bit set is a bit the device
/// server evaluates. The dispatcher rejects CDBs with bits set outside this mask (reserved
/// fields) with INVALID FIELD IN CDB, so the mask is exactly what we accept.
/// </param>
public sealed record CommandDescriptor(
    byte Opcode,
    int ServiceAction,
    string Name,
    byte[] UsageMask,
    CommandHandler Handler,
    ReservationAccess Access,
    CommandFlags Flags = CommandFlags.None,
    uint NominalTimeoutSeconds = 0,
    uint RecommendedTimeoutSeconds = 0)
{
    public int CdbLength => UsageMask.Length;
    public bool HasServiceAction => ServiceAction >= 0;
}
