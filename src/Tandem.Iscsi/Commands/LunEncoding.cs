namespace Tandem.Iscsi.Commands;

/// <summary>RFC 7143 / SAM-5 single-level LUN structure to LUN number and back.</summary>
internal static class LunEncoding
{
    /// <summary>Value given to LUN fields we cannot decode: no logical unit has it.</summary>
    public const ulong Unsupported = ulong.MaxValue;

    /// <summary>Decodes peripheral (00b) and flat space (01b) addressing of the first level.</summary>
    public static ulong Decode(ulong field)
    {
        if ((field & 0x0000_FFFF_FFFF_FFFFUL) != 0)
            return Unsupported; // second and later levels are not used by this target
        byte first = (byte)(field >> 56);
        byte second = (byte)(field >> 48);
        return (first >> 6) switch
        {
            0 when (first & 0x3F) == 0 => second,
            1 => ((ulong)(first & 0x3F) << 8) | second,
            _ => Unsupported,
        };
    }
}
