namespace Tandem.Scsi.Transport;

/// <summary>
/// What a transport (the iSCSI layer) sees of a SCSI target: a set of logical units addressed by
/// LUN. The transport owns the task set (ordering, aborts); the target owns SCSI semantics and the
/// SCSI-visible effects of resets and nexus events (unit attentions, reservation release).
/// </summary>
public interface IScsiTarget
{
    /// <summary>
    /// Executes one command and completes when its status and data-in are ready. SCSI errors never
    /// throw: they come back as CHECK CONDITION with sense data in <paramref name="command"/>.
    /// Commands arrive concurrently; the target keeps per-LU semantics (e.g. COMPARE AND WRITE atomicity).
    /// </summary>
    /// <param name="abort">Signalled when the task is aborted; the target may stop early.</param>
    ValueTask ExecuteAsync(ScsiCommand command, CancellationToken abort = default);

    /// <summary>LUNs that exist, for the transport's checks; REPORT LUNS itself is answered by the target.</summary>
    IReadOnlyCollection<ulong> Luns { get; }

    /// <summary>A new I_T nexus (session) was established.</summary>
    void NexusCreated(ITNexus nexus);

    /// <summary>An I_T nexus ended (logout, connection drop): releases RESERVE(6/10) reservations it held.</summary>
    void NexusLost(ITNexus nexus);

    /// <summary>
    /// SCSI effects of a LOGICAL UNIT RESET after the transport aborted every task of that LU:
    /// releases non-persistent reservations and raises the reset unit attention for every nexus of
    /// the LU (the requester included, as multipath initiators expect on every path).
    /// </summary>
    ValueTask LogicalUnitResetAsync(ulong lun, ITNexus requester);

    /// <summary>Effects of TARGET WARM/COLD RESET: a logical unit reset of every LU.</summary>
    ValueTask TargetResetAsync(ITNexus requester);

    /// <summary>
    /// Tasks of <paramref name="victim"/> on <paramref name="lun"/> were aborted by another nexus
    /// (CLEAR TASK SET): raises COMMANDS CLEARED BY ANOTHER INITIATOR for the victim.
    /// </summary>
    void TasksClearedByAnotherInitiator(ulong lun, ITNexus requester, ITNexus victim);
}
