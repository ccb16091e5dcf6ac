using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Sessions;
using Tandem.Scsi.Transport;

namespace Tandem.Iscsi.TaskManagement;

/// <summary>The fields of a Task Management Function Request (RFC 7143 §11.5).</summary>
internal readonly record struct TaskManagementRequest(
    TaskManagementFunction Function, ulong LunField, uint InitiatorTaskTag, uint ReferencedTaskTag, uint RefCmdSN);

/// <summary>
/// Task management (RFC 7143 §11.5, SAM-5 §7): aborts in this session or, for CLEAR TASK SET and resets,
/// in every session of the target; then the SCSI-visible effects through the <see cref="IScsiTarget"/>
/// hooks. Aborted tasks get no response (TAS=0); the function's response is sent only after every
/// aborted task has left the SCSI layer.
/// </summary>
internal static class TaskManagementHandler
{
    public static async Task<TaskManagementResponse> ExecuteAsync(IscsiServer server, IscsiSession session, TaskManagementRequest request, ILogger logger)
    {
        IScsiTarget target = session.ScsiTarget;
        ITNexus requester = session.Nexus!;
        ulong lun = LunEncoding.Decode(request.LunField);
        logger.LogDebug("TMF {Function} LUN {Lun} RTT {Rtt:x8} from {Initiator}", request.Function, lun, request.ReferencedTaskTag, requester.InitiatorPortName);

        switch (request.Function)
        {
            case TaskManagementFunction.AbortTask:
                {
                    // Decided under the session lock by AbortTasks itself: a task whose response was
                    // queued a moment ago is not aborted, and the initiator hears "does not exist"
                    // (it will see the task's status), never both a status and "function complete".
                    Task aborted = session.AbortTasks(t => t.InitiatorTaskTag == request.ReferencedTaskTag, out int count);
                    if (count == 0)
                        return TaskManagementResponse.TaskDoesNotExist;
                    await Drain(aborted, logger).ConfigureAwait(false);
                    return TaskManagementResponse.FunctionComplete;
                }
            case TaskManagementFunction.AbortTaskSet:
                {
                    if (!target.Luns.Contains(lun))
                        return TaskManagementResponse.LunDoesNotExist;
                    await Drain(session.AbortTasks(t => t.Lun == lun, out _), logger).ConfigureAwait(false);
                    return TaskManagementResponse.FunctionComplete;
                }
            case TaskManagementFunction.ClearTaskSet:
                {
                    if (!target.Luns.Contains(lun))
                        return TaskManagementResponse.LunDoesNotExist;
                    var waits = new List<Task>();
                    var victims = new List<IscsiSession>();
                    foreach (IscsiSession other in server.Registry.ForTarget(session.Target!.Name))
                    {
                        waits.Add(other.AbortTasks(t => t.Lun == lun, out int count));
                        if (!ReferenceEquals(other, session) && count > 0)
                            victims.Add(other);
                    }
                    await Drain(Task.WhenAll(waits), logger).ConfigureAwait(false);
                    foreach (IscsiSession victim in victims)
                        Notify(logger, () => target.TasksClearedByAnotherInitiator(lun, requester, victim.Nexus!));
                    return TaskManagementResponse.FunctionComplete;
                }
            case TaskManagementFunction.LogicalUnitReset:
                {
                    if (!target.Luns.Contains(lun))
                        return TaskManagementResponse.LunDoesNotExist;
                    await AbortInTarget(server, session, t => t.Lun == lun, logger).ConfigureAwait(false);
                    await NotifyAsync(logger, () => target.LogicalUnitResetAsync(lun, requester)).ConfigureAwait(false);
                    return TaskManagementResponse.FunctionComplete;
                }
            case TaskManagementFunction.TargetWarmReset:
            case TaskManagementFunction.TargetColdReset:
                {
                    await AbortInTarget(server, session, _ => true, logger).ConfigureAwait(false);
                    await NotifyAsync(logger, () => target.TargetResetAsync(requester)).ConfigureAwait(false);
                    return TaskManagementResponse.FunctionComplete;
                }
            case TaskManagementFunction.TaskReassign:
                return TaskManagementResponse.TaskAllegianceReassignmentNotSupported; // ErrorRecoveryLevel < 2
            case TaskManagementFunction.ClearAca:
            default:
                return TaskManagementResponse.FunctionNotSupported;
        }
    }

    private static Task AbortInTarget(IscsiServer server, IscsiSession session, Func<ScsiTask, bool> match, ILogger logger)
    {
        var waits = new List<Task>();
        foreach (IscsiSession other in server.Registry.ForTarget(session.Target!.Name))
            waits.Add(other.AbortTasks(match, out _));
        return Drain(Task.WhenAll(waits), logger);
    }

    private static async Task Drain(Task running, ILogger logger)
    {
        try
        {
            await running.WaitAsync(IscsiLimits.TaskDrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("aborted SCSI commands still running after {Seconds}s", IscsiLimits.TaskDrainTimeout.TotalSeconds);
        }
    }

    private static async Task NotifyAsync(ILogger logger, Func<ValueTask> hook)
    {
        try { await hook().ConfigureAwait(false); }
        catch (Exception ex) { logger.LogWarning(ex, "SCSI target reset hook failed"); }
    }

    private static void Notify(ILogger logger, Action hook)
    {
        try { hook(); }
        catch (Exception ex) { logger.LogWarning(ex, "SCSI target reset hook failed"); }
    }
}
