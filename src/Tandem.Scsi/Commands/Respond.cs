using System.Buffers;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>Small helpers every command uses to finish: data-in with allocation length, and errors.</summary>
public static class Respond
{
    /// <summary>
    /// Returns parameter data bounded by the allocation length: TransferLength is what the CDB
    /// asks to move, and at most DataIn.Length bytes are written.
    /// </summary>
    public static void DataIn(ScsiCommand command, ReadOnlySpan<byte> data, int allocationLength)
    {
        int length = Math.Min(data.Length, allocationLength);
        command.TransferLength = length;
        int copy = Math.Min(length, command.DataIn.Length);
        data[..copy].CopyTo(command.DataIn.Span);
    }

    public static void InvalidCdbField(ScsiCommand command, int @byte, int? bit = null) =>
        SenseData.SetCheckCondition(command, SenseCodes.InvalidFieldInCdb, fieldPointer: FieldPointer.Cdb(@byte, bit));

    public static void InvalidParameterField(ScsiCommand command, int @byte, int? bit = null) =>
        SenseData.SetCheckCondition(command, SenseCodes.InvalidFieldInParameterList, fieldPointer: FieldPointer.Parameter(@byte, bit));

    public static void Check(ScsiCommand command, SenseCode code) => SenseData.SetCheckCondition(command, code);

    public static void ReservationConflict(ScsiCommand command)
    {
        command.Status = ScsiStatus.ReservationConflict;
        command.SetSenseLength(0);
    }

    /// <summary>A pooled scratch buffer for building parameter data, cleared to the length asked.</summary>
    public static byte[] Rent(int length)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        Array.Clear(buffer, 0, length);
        return buffer;
    }

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);
}
