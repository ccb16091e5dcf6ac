using Microsoft.Extensions.Logging;
using Tandem.Replication.Replicas;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Reservations;

namespace Tandem.Node.HighAvailability;

/// <summary>Reservations and LUN resets of an HA device, shared over its replication links.</summary>
internal sealed class ReplicaReservations(ReplicatedDevice device, ILogger log) : IReservationSharing
{
    private ScsiLogicalUnit? _unit;

    /// <summary>Connects the logical unit (created after this object, which its options hold).</summary>
    public void Attach(ScsiLogicalUnit unit)
    {
        _unit = unit;
        device.ReservationStateReceived += state => unit.Reservations.ImportState(state);
        device.LunResetReceived += unit.OnPartnerLogicalUnitReset;
        device.PartnerSynchronized += () =>
        {
            // The lower replica id brings a partner that (re)joined up to date.
            _ = PublishAsync("a partner joined");
        };
    }

    public ValueTask RunExclusiveAsync(Func<ValueTask> command, CancellationToken cancellationToken) =>
        device.RunReservationChangeAsync(command, () => _unit!.Reservations.ExportState(), cancellationToken);

    public ValueTask PublishAsync() => new(PublishAsync("a reset or a lost nexus released a reservation"));

    public ValueTask LogicalUnitResetAsync() => new(ResetAsync());

    private async Task ResetAsync()
    {
        try
        {
            await device.SendLunResetAsync();
        }
        catch (Exception e)
        {
            log.LogWarning("Could not tell partners about a LOGICAL UNIT RESET: {Error}", e.Message);
        }
    }

    private async Task PublishAsync(string why)
    {
        try
        {
            await device.PublishReservationsAsync(_unit!.Reservations.ExportState());
        }
        catch (Exception e)
        {
            log.LogWarning("Could not share reservation state ({Why}): {Error}", why, e.Message);
        }
    }
}
