using Microsoft.Extensions.Logging;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Sense;

/// <summary>
/// The one place that maps failures while executing a command to SCSI status and sense data.
/// SCSI errors never escape <see cref="IScsiTarget.ExecuteAsync"/> as exceptions.
/// </summary>
public static class SenseMapper
{
    public static void Apply(ScsiCommand command, Exception exception, bool aborted, ILogger logger)
    {
        switch (exception)
        {
            case ScsiCheckConditionException check:
                SenseData.SetCheckCondition(command, check.Code, check.Information, check.FieldPointer);
                return;
            case ReservationConflictException:
                SetStatus(command, ScsiStatus.ReservationConflict);
                return;
            case OperationCanceledException when aborted:
                SetStatus(command, ScsiStatus.TaskAborted);
                return;
            case Storage.DeviceUnavailableException unavailable:
                SenseData.SetCheckCondition(command, unavailable.Transitioning
                    ? SenseCodes.AsymmetricAccessStateTransition
                    : SenseCodes.TargetPortInUnavailableState);
                return;
            case IOException io:
                logger.LogError(io, "I/O error executing {Opcode:X2}h on LUN {Lun}", OpcodeOf(command), command.Lun);
                SenseData.SetCheckCondition(command, command.IsWrite ? SenseCodes.WriteError : SenseCodes.UnrecoveredReadError);
                return;
            default:
                logger.LogError(exception, "Internal error executing {Opcode:X2}h on LUN {Lun}", OpcodeOf(command), command.Lun);
                SenseData.SetCheckCondition(command, SenseCodes.InternalTargetFailure);
                return;
        }
    }

    private static void SetStatus(ScsiCommand command, ScsiStatus status)
    {
        command.Status = status;
        command.SetSenseLength(0);
    }

    private static byte OpcodeOf(ScsiCommand command) => command.CdbLength > 0 ? command.Cdb[0] : (byte)0;
}
