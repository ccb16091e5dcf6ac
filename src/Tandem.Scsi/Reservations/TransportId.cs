using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Tandem.Scsi.Sense;

namespace Tandem.Scsi.Reservations;

/// <summary>
/// iSCSI TransportIDs (SPC-4 §7.6.4.6): protocol identifier 5, format 00b (iSCSI name: every
/// port of that initiator) or 01b ("name,i,0x" + ISID: one initiator port).
/// </summary>
public static class TransportId
{
    public const byte ProtocolIscsi = 0x5;

    /// <summary>SPC-4: the ADDITIONAL LENGTH of an iSCSI TransportID is a multiple of 4 and at least 20.</summary>
    private const int MinimumAdditionalLength = 20;

    /// <summary>RFC 7143 §4.2.7.1: iSCSI names are at most 223 bytes.</summary>
    private const int MaxNameLength = 223;

    private const string IsidSeparator = ",i,0x";

    /// <summary>
    /// Parses one TransportID at the start of <paramref name="data"/>. Throws a CHECK CONDITION
    /// (INVALID FIELD IN PARAMETER LIST, pointing at <paramref name="offset"/>) when malformed.
    /// </summary>
    public static (string InitiatorName, ulong? Isid, int Length) Parse(ReadOnlySpan<byte> data, int offset)
    {
        if (data.Length < 4)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);
        int format = data[0] >> 6;
        int protocol = data[0] & 0x0F;
        if (protocol != ProtocolIscsi || format > 1)
            throw ScsiCheckConditionException.InvalidParameterField(offset, 3);
        int additional = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        if (additional < MinimumAdditionalLength || additional % 4 != 0)
            throw ScsiCheckConditionException.InvalidParameterField(offset + 2);
        if (data.Length < 4 + additional)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);

        var text = data.Slice(4, additional);
        int nul = text.IndexOf((byte)0);
        if (nul <= 0)
            throw ScsiCheckConditionException.InvalidParameterField(offset + 4);
        string value;
        try
        {
            value = new UTF8Encoding(false, true).GetString(text[..nul]);
        }
        catch (DecoderFallbackException)
        {
            throw ScsiCheckConditionException.InvalidParameterField(offset + 4);
        }

        ulong? isid = null;
        string name = value;
        if (format == 1)
        {
            int sep = value.IndexOf(IsidSeparator, StringComparison.OrdinalIgnoreCase);
            if (sep <= 0 || !ulong.TryParse(value.AsSpan(sep + IsidSeparator.Length), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong parsed) || parsed > 0xFFFF_FFFF_FFFFUL)
                throw ScsiCheckConditionException.InvalidParameterField(offset + 4);
            name = value[..sep];
            isid = parsed;
        }
        if (name.Length == 0 || name.Length > MaxNameLength)
            throw ScsiCheckConditionException.InvalidParameterField(offset + 4);
        return (name, isid, 4 + additional);
    }

    /// <summary>Encodes a TransportID for READ FULL STATUS; returns its length.</summary>
    public static int Write(Span<byte> destination, string initiatorName, ulong? isid)
    {
        string text = isid is ulong i ? $"{initiatorName}{IsidSeparator}{i:x12}" : initiatorName;
        int nameBytes = Encoding.UTF8.GetByteCount(text);
        int additional = Math.Max(MinimumAdditionalLength, (nameBytes + 1 + 3) & ~3);
        destination[..(4 + additional)].Clear();
        destination[0] = (byte)((isid is null ? 0x00 : 0x40) | ProtocolIscsi);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)additional);
        Encoding.UTF8.GetBytes(text, destination[4..]);
        return 4 + additional;
    }

    /// <summary>Upper bound of <see cref="Write"/>'s length for a name.</summary>
    public static int MaxLength(string initiatorName) => 4 + Math.Max(MinimumAdditionalLength, (Encoding.UTF8.GetByteCount(initiatorName) + IsidSeparator.Length + 12 + 1 + 3) & ~3);
}
