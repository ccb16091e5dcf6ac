using Microsoft.Extensions.Logging;
using Tandem.Scsi.Alua;

namespace Tandem.Scsi.LogicalUnits;

/// <summary>Per-logical-unit settings that are not part of its identity.</summary>
public sealed class LogicalUnitOptions
{
    /// <summary>
    /// File where persistent-reservation state is saved atomically when an initiator sets APTPL
    /// (activate persist through power loss), and loaded at construction. Null: APTPL is refused.
    /// </summary>
    public string? ReservationStatePath { get; init; }

    /// <summary>Source of the ALUA target port groups and their states.</summary>
    public IAluaStateProvider Alua { get; init; } = new SingleNodeAlua();

    /// <summary>
    /// Initial WCE bit of the caching mode page: true when the device below acknowledges writes
    /// from a volatile cache (write-back). An initiator may clear it with MODE SELECT, after which
    /// every write is sent with <see cref="Tandem.Storage.WriteFlags.ForceUnitAccess"/>.
    /// </summary>
    public bool WriteCacheEnabled { get; init; } = true;

    /// <summary>Write-protects the logical unit (writes fail with DATA PROTECT / WRITE PROTECTED).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Shares reservations with the other nodes of an HA device; null on a single node.</summary>
    public Reservations.IReservationSharing? ReservationSharing { get; init; }

    /// <summary>Logger for I/O errors and reservation-state persistence problems.</summary>
    public ILogger? Logger { get; init; }
}
