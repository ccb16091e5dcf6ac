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

    /// <summary>Reservations changed without a command (an I_T nexus holding RESERVE was lost): publish the state.</summary>
    void OnLocalChange();

    /// <summary>A LOGICAL UNIT RESET arrived here: partners report the reset to their nexuses too.</summary>
    void OnLogicalUnitReset();
}
