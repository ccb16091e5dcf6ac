using System.Buffers.Binary;

namespace Tandem.Iscsi.Pdu;

/// <summary>
/// Additional Header Segments of a SCSI Command (RFC 7143 §11.2.2): the extended CDB (type 1) and the
/// expected bidirectional read data length (type 2). Each AHS is
/// <c>AHSLength(2) | AHSType(1) | specific(1) | data(AHSLength-1)</c>, padded to 4 bytes.
/// </summary>
internal static class AdditionalHeaders
{
    public const byte ExtendedCdbType = 1;
    public const byte BidirectionalReadLengthType = 2;

    /// <summary>Parses the AHS area. Returns false when it is malformed.</summary>
    /// <param name="extendedCdb">CDB bytes beyond the 16 carried in the BHS (empty if none).</param>
    public static bool TryParse(ReadOnlySpan<byte> ahs, out ReadOnlySpan<byte> extendedCdb, out int? bidirectionalReadLength)
    {
        extendedCdb = default;
        bidirectionalReadLength = null;
        while (ahs.Length > 0)
        {
            if (ahs.Length < 4)
                return false;
            int length = BinaryPrimitives.ReadUInt16BigEndian(ahs);
            byte type = ahs[2];
            int total = PduMath.Padded(3 + length);
            if (length == 0 || total > ahs.Length)
                return false;
            // The AHS-specific byte (offset 3) is counted in AHSLength; the payload follows it.
            ReadOnlySpan<byte> payload = ahs.Slice(4, length - 1);
            switch (type)
            {
                case ExtendedCdbType:
                    extendedCdb = payload;
                    break;
                case BidirectionalReadLengthType:
                    if (length != 5)
                        return false;
                    uint value = BinaryPrimitives.ReadUInt32BigEndian(payload);
                    if (value > int.MaxValue)
                        return false;
                    bidirectionalReadLength = (int)value;
                    break;
                default:
                    return false;
            }
            ahs = ahs[total..];
        }
        return true;
    }
}
