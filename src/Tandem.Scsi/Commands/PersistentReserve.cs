using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>PERSISTENT RESERVE IN — SPC-4 §6.15; the logic lives in <see cref="Reservations.PersistentReservations"/>.</summary>
public static class PersistentReserveIn
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        unit.Reservations.ExecuteIn(command);
        return ValueTask.CompletedTask;
    }
}

/// <summary>PERSISTENT RESERVE OUT — SPC-4 §6.16; the logic lives in <see cref="Reservations.PersistentReservations"/>.</summary>
public static class PersistentReserveOut
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        unit.Reservations.ExecuteOut(command);
        return ValueTask.CompletedTask;
    }
}

/// <summary>RESERVE and RELEASE (6), (10) — SPC-2 §7.21-7.24: whole-unit reservations of one I_T nexus.</summary>
public static class ReserveRelease
{
    public static ValueTask ReserveAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!unit.Reservations.Reserve(command.Nexus))
            Respond.ReservationConflict(command);
        return ValueTask.CompletedTask;
    }

    public static ValueTask ReleaseAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!unit.Reservations.Release(command.Nexus))
            Respond.ReservationConflict(command);
        return ValueTask.CompletedTask;
    }
}
