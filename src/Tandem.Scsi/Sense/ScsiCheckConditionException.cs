namespace Tandem.Scsi.Sense;

/// <summary>
/// Thrown by command code off the hot path (parameter-list parsing, reservations) to end the
/// command with CHECK CONDITION. <see cref="SenseMapper"/> turns it into sense data.
/// </summary>
public sealed class ScsiCheckConditionException(SenseCode code, FieldPointer? fieldPointer = null, uint? information = null)
    : Exception($"CHECK CONDITION {code}")
{
    public SenseCode Code { get; } = code;
    public FieldPointer? FieldPointer { get; } = fieldPointer;
    public uint? Information { get; } = information;

    public static ScsiCheckConditionException InvalidCdbField(int @byte, int? bit = null) =>
        new(SenseCodes.InvalidFieldInCdb, Sense.FieldPointer.Cdb(@byte, bit));

    public static ScsiCheckConditionException InvalidParameterField(int @byte, int? bit = null) =>
        new(SenseCodes.InvalidFieldInParameterList, Sense.FieldPointer.Parameter(@byte, bit));
}

/// <summary>Thrown to end a command with RESERVATION CONFLICT status (no sense data).</summary>
public sealed class ReservationConflictException() : Exception("RESERVATION CONFLICT");
