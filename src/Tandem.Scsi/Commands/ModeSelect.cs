using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// MODE SELECT (6) and (10) — SPC-4 §6.9-6.10. Pages are checked in full before anything is
/// applied; a change raises MODE PARAMETERS CHANGED for every other I_T nexus (SPC-4 §7.5.1).
/// </summary>
public static class ModeSelect
{
    private const byte PageFormatBit = 0x10;
    private const byte SavePagesBit = 0x01;

    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool ten = cdb[0] == OperationCode.ModeSelect10;
        int parameterListLength = ten ? CdbReader.U16(cdb, 7) : cdb[4];
        command.TransferLength = parameterListLength;
        if ((cdb[1] & SavePagesBit) != 0)
        {
            Respond.InvalidCdbField(command, 1, 0);
            return ValueTask.CompletedTask;
        }
        if (parameterListLength == 0)
            return ValueTask.CompletedTask;
        if ((cdb[1] & PageFormatBit) == 0)
        {
            Respond.InvalidCdbField(command, 1, 4);
            return ValueTask.CompletedTask;
        }

        int headerLength = ten ? 8 : 4;
        ReadOnlySpan<byte> data = command.DataOut.Span[..Math.Min(parameterListLength, command.DataOut.Length)];
        if (data.Length < headerLength)
        {
            SenseData.SetCheckCondition(command, SenseCodes.ParameterListLengthError);
            return ValueTask.CompletedTask;
        }
        int descriptorLength = ten ? CdbReader.U16(data, 6) : data[3];
        int at = headerLength;
        if (descriptorLength != 0)
        {
            if (!CheckBlockDescriptor(unit, command, data, at, descriptorLength, ten && (data[4] & 0x01) != 0))
                return ValueTask.CompletedTask;
            at += descriptorLength;
        }

        bool? newWce = null;
        bool? newSwp = null;
        Span<byte> current = stackalloc byte[32];
        Span<byte> mask = stackalloc byte[32];
        while (at < data.Length)
        {
            if (data.Length - at < 2)
            {
                SenseData.SetCheckCondition(command, SenseCodes.ParameterListLengthError);
                return ValueTask.CompletedTask;
            }
            byte page = (byte)(data[at] & 0x3F);
            bool subpageFormat = (data[at] & 0x40) != 0;
            int length = ModePages.Length(page);
            if (subpageFormat || length == 0)
            {
                Respond.InvalidParameterField(command, at, 5);
                return ValueTask.CompletedTask;
            }
            if ((data[at] & 0x80) != 0) // PS is reserved in MODE SELECT
            {
                Respond.InvalidParameterField(command, at, 7);
                return ValueTask.CompletedTask;
            }
            if (data[at + 1] != length - 2)
            {
                Respond.InvalidParameterField(command, at + 1);
                return ValueTask.CompletedTask;
            }
            if (data.Length - at < length)
            {
                SenseData.SetCheckCondition(command, SenseCodes.ParameterListLengthError);
                return ValueTask.CompletedTask;
            }
            ModePages.Write(unit, page, ModePages.PageControlCurrent, current);
            ModePages.ChangeableMask(page, mask[..length]);
            var sent = data.Slice(at, length);
            for (int i = 2; i < length; i++)
            {
                byte differs = (byte)((sent[i] ^ current[i]) & ~mask[i]);
                if (differs != 0)
                {
                    Respond.InvalidParameterField(command, at + i, 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)differs));
                    return ValueTask.CompletedTask;
                }
            }
            if (page == ModePages.Caching)
                newWce = (sent[2] & ModePages.WceBit) != 0;
            else if (page == ModePages.Control)
                newSwp = (sent[4] & ModePages.SwpBit) != 0;
            at += length;
        }

        bool changed = false;
        if (newWce is bool wce && wce != unit.WriteCacheEnabled)
        {
            unit.WriteCacheEnabled = wce;
            changed = true;
        }
        if (newSwp is bool swp && swp != unit.SoftwareWriteProtect)
        {
            unit.SoftwareWriteProtect = swp;
            changed = true;
        }
        if (changed)
            unit.RaiseUnitAttention(SenseCodes.ModeParametersChanged, except: command.Nexus);
        return ValueTask.CompletedTask;
    }

    /// <summary>A block descriptor may only restate the current block length (we cannot reformat).</summary>
    private static bool CheckBlockDescriptor(ScsiLogicalUnit unit, ScsiCommand command, ReadOnlySpan<byte> data, int at, int length, bool longLba)
    {
        int expected = longLba ? 16 : 8;
        if (length != expected || data.Length < at + length)
        {
            SenseData.SetCheckCondition(command, SenseCodes.ParameterListLengthError);
            return false;
        }
        uint blockLength = longLba ? CdbReader.U32(data, at + 12) : CdbReader.U24(data, at + 5);
        if (blockLength != 0 && blockLength != unit.Device.BlockSize)
        {
            Respond.InvalidParameterField(command, longLba ? at + 12 : at + 5);
            return false;
        }
        return true;
    }
}
