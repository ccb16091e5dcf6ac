using Tandem.Scsi.Alua;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// REQUEST SENSE — SPC-4 §6.29. Returns a pending unit attention (and clears it), else the reason
/// the logical unit cannot serve media commands through this port (ALUA state), else NO SENSE.
/// </summary>
public static class RequestSense
{
    private const byte DescriptorFormatBit = 0x01;

    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!CheckCdb(command))
            return ValueTask.CompletedTask;
        var state = unit.GetNexusState(command.Nexus);
        SenseCode code;
        if (!state.TryTake(out code))
        {
            code = unit.AccessStateFor(command.Nexus) switch
            {
                AluaState.Standby => SenseCodes.TargetPortInStandbyState,
                AluaState.Transitioning => SenseCodes.AsymmetricAccessStateTransition,
                AluaState.Unavailable or AluaState.Offline => SenseCodes.TargetPortInUnavailableState,
                _ => SenseCodes.NoSense,
            };
        }
        Return(command, code);
        return ValueTask.CompletedTask;
    }

    /// <summary>REQUEST SENSE to a LUN without a logical unit: LOGICAL UNIT NOT SUPPORTED as parameter data (SPC-4 §6.29).</summary>
    public static void ExecuteForMissingUnit(ScsiCommand command)
    {
        if (CheckCdb(command))
            Return(command, SenseCodes.LogicalUnitNotSupported);
    }

    private static bool CheckCdb(ScsiCommand command)
    {
        // Descriptor-format sense is not implemented (D_SENSE is 0 and not changeable).
        if ((command.Cdb[1] & DescriptorFormatBit) != 0)
        {
            Respond.InvalidCdbField(command, 1, 0);
            return false;
        }
        return true;
    }

    private static void Return(ScsiCommand command, SenseCode code)
    {
        Span<byte> data = stackalloc byte[SenseData.FixedLength];
        int length = SenseData.WriteFixed(data, code);
        Respond.DataIn(command, data[..length], command.Cdb[4]);
    }
}
