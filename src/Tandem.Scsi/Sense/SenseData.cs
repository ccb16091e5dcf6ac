using System.Buffers.Binary;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Sense;

/// <summary>
/// Builds SPC-4 §4.5.3 fixed-format sense data (response code 70h). Fixed format because every
/// initiator we target (Linux, ESXi, Windows, libiscsi) parses it and our LBAs that need an
/// INFORMATION field fit in 32 bits for the cases we report (MISCOMPARE offsets).
/// </summary>
public static class SenseData
{
    /// <summary>Fixed-format sense data length: 8-byte header plus 10 additional bytes (SPC-4 §4.5.3).</summary>
    public const int FixedLength = 18;

    private const byte CurrentErrorFixed = 0x70;
    private const byte ValidBit = 0x80;
    private const byte SenseKeySpecificValid = 0x80;
    private const byte CommandDataBit = 0x40;
    private const byte BitPointerValid = 0x08;

    /// <summary>Writes fixed-format sense data and returns its length (at most <see cref="FixedLength"/>).</summary>
    /// <param name="information">Value of the INFORMATION field (VALID bit set) or null.</param>
    /// <param name="fieldPointer">Sense-key specific field pointer for INVALID FIELD IN CDB/PARAMETER LIST.</param>
    public static int WriteFixed(Span<byte> destination, SenseCode code, uint? information = null, FieldPointer? fieldPointer = null)
    {
        Span<byte> sense = stackalloc byte[FixedLength];
        sense.Clear();
        sense[0] = CurrentErrorFixed;
        sense[2] = (byte)((byte)code.Key & 0x0F);
        if (information is uint info)
        {
            sense[0] |= ValidBit;
            BinaryPrimitives.WriteUInt32BigEndian(sense[3..], info);
        }
        sense[7] = FixedLength - 8;
        sense[12] = code.Asc;
        sense[13] = code.Ascq;
        if (fieldPointer is FieldPointer fp)
        {
            byte b = SenseKeySpecificValid;
            if (fp.InCdb)
                b |= CommandDataBit;
            if (fp.Bit is int bit)
                b |= (byte)(BitPointerValid | (bit & 0x07));
            sense[15] = b;
            BinaryPrimitives.WriteUInt16BigEndian(sense[16..], fp.Byte);
        }
        int n = Math.Min(destination.Length, FixedLength);
        sense[..n].CopyTo(destination);
        return n;
    }

    /// <summary>Sets CHECK CONDITION with the given sense on a command.</summary>
    public static void SetCheckCondition(ScsiCommand command, SenseCode code, uint? information = null, FieldPointer? fieldPointer = null)
    {
        command.Status = ScsiStatus.CheckCondition;
        command.SetSenseLength(WriteFixed(command.SenseBuffer, code, information, fieldPointer));
    }

    /// <summary>Reads key/ASC/ASCQ back from fixed or descriptor sense data (tests, logging).</summary>
    public static SenseCode Parse(ReadOnlySpan<byte> sense)
    {
        if (sense.Length < 4)
            return SenseCodes.NoSense;
        int responseCode = sense[0] & 0x7F;
        if (responseCode is 0x72 or 0x73)
            return new SenseCode((SenseKey)(sense[1] & 0x0F), sense[2], sense[3]);
        if (sense.Length < 14)
            return new SenseCode((SenseKey)(sense[2] & 0x0F), 0, 0);
        return new SenseCode((SenseKey)(sense[2] & 0x0F), sense[12], sense[13]);
    }
}

/// <summary>
/// Sense-key specific field pointer (SPC-4 §4.5.2.4.2): which byte (and optionally bit) of the CDB
/// or parameter list was invalid.
/// </summary>
public readonly record struct FieldPointer(bool InCdb, ushort Byte, int? Bit = null)
{
    public static FieldPointer Cdb(int @byte, int? bit = null) => new(true, (ushort)@byte, bit);
    public static FieldPointer Parameter(int @byte, int? bit = null) => new(false, (ushort)@byte, bit);
}
