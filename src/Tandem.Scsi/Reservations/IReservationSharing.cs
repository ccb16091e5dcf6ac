namespace Tandem.Scsi.Reservations;

/// <summary>
/// Keeps reservations the same through every node of an HA device (SPEC §6: persistent
/// reservations, reservation keys and unit attentions are the same through every path). The
/// single-node logical unit has none; the HA glue implements it over the replication links.
/// </summary>
public interface IReservationSharing
{
    /// <summary>
    /// Runs a command that may change reservations (PERSISTENT RESERVE OUT, RESERVE, RELEASE) while
    /// holding the cluster-wide reservation lock, then gives every partner the resulting state
    /// (<see cref="PersistentReservations.ExportState"/>) before returning.
    /// </summary>
    ValueTask RunExclusiveAsync(Func<ValueTask> command, CancellationToken cancellationToken);

    /// <summary>Reservations changed without a command (a lost nexus or a reset released RESERVE): publish the state.</summary>
    ValueTask PublishAsync();

    /// <summary>A LOGICAL UNIT RESET arrived here: partners apply its effects to their nexuses before the reset completes.</summary>
    ValueTask LogicalUnitResetAsync();
}
