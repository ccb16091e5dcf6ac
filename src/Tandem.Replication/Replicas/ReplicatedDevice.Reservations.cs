using Microsoft.Extensions.Logging;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Replicas;

/// <summary>
/// SCSI reservations shared by the replica set. A change runs under every serving node's
/// reservation lock, taken in replica-id order (so two nodes changing at once cannot deadlock),
/// and the resulting state reaches every partner before the command completes.
/// </summary>
public sealed partial class ReplicatedDevice
{
    private readonly SemaphoreSlim _reservationGate = new(1, 1);
    private int _reservationGateHolder;

    /// <summary>A partner sent its reservation state (import it; throw InvalidDataException if malformed).</summary>
    public event Action<byte[]>? ReservationStateReceived;

    /// <summary>A partner received a LOGICAL UNIT RESET.</summary>
    public event Action? LunResetReceived;

    /// <summary>Runs a reservation change cluster-wide; <paramref name="exportState"/> gives the state to publish after it.</summary>
    public async ValueTask RunReservationChangeAsync(Func<ValueTask> change, Func<byte[]> exportState, CancellationToken ct)
    {
        var partners = _peers.Where(p => p.ReceivesWrites && p.Link is { IsUp: true }).ToArray();
        var order = partners.Select(p => p.Id).Append(LocalId).Order().ToArray();
        var locked = new List<int>();
        try
        {
            foreach (int id in order)
            {
                if (id == LocalId)
                {
                    await _reservationGate.WaitAsync(ct).ConfigureAwait(false);
                    Volatile.Write(ref _reservationGateHolder, LocalId);
                }
                else
                {
                    var reply = await ControlAsync(PeerById(id), new ReservationLockMessage(true)).ConfigureAwait(false);
                    if (!reply)
                        continue; // the partner is gone: it no longer counts
                }
                locked.Add(id);
            }
            await change().ConfigureAwait(false);
            await PublishReservationsAsync(exportState()).ConfigureAwait(false);
        }
        finally
        {
            locked.Reverse();
            foreach (int id in locked)
            {
                if (id == LocalId)
                    ReleaseReservationGate(LocalId);
                else
                    await ControlAsync(PeerById(id), new ReservationLockMessage(false)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Gives every serving partner the reservation state.</summary>
    public async Task PublishReservationsAsync(byte[] state)
    {
        var message = new ReservationStateMessage(state);
        await Task.WhenAll(_peers.Where(p => p.ReceivesWrites && p.Link is { IsUp: true }).Select(p => ControlAsync(p, message))).ConfigureAwait(false);
    }

    /// <summary>Tells every serving partner that a LOGICAL UNIT RESET arrived here.</summary>
    public Task SendLunResetAsync() =>
        Task.WhenAll(_peers.Where(p => p.ReceivesWrites && p.Link is { IsUp: true }).Select(p => ControlAsync(p, new LunResetMessage())));

    private async Task<bool> ControlAsync(ReplicaPeer peer, ControlMessage message)
    {
        if (peer.Link is not { IsUp: true } link)
            return false;
        var reply = await link.RequestAsync(FrameType.Control, new BytesPayload(message.ToBytes())).ConfigureAwait(false);
        if (!reply.IsOk && reply.Status != ReplyStatus.LinkDown)
            _log.LogWarning("{Device}: replica {Peer} answered {Status} to {Message}", _options.DeviceName, peer.Id, reply.Status, message.GetType().Name);
        return reply.IsOk;
    }

    private void ReleaseReservationGate(int holder)
    {
        if (Interlocked.CompareExchange(ref _reservationGateHolder, 0, holder) == holder)
            _reservationGate.Release();
    }
}
