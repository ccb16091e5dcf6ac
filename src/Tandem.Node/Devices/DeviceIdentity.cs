using System.Security.Cryptography;
using Tandem.Node.Errors;

namespace Tandem.Node.Devices;

/// <summary>
/// The identity of a device as initiators see it: NAA-6 identifier (VPD 0x83) and unit serial
/// number (VPD 0x80). Generated once at creation and stored with the device, never regenerated:
/// hosts key multipath maps and datastores on these.
/// </summary>
public sealed record DeviceIdentity(byte[] Naa, string Serial)
{
    /// <summary>NAA-6 "IEEE Registered Extended" identifiers are 16 bytes (SPC-4 §7.8.6.6.5).</summary>
    public const int NaaLength = 16;

    /// <summary>
    /// 24-bit company id in the NAA identifier. Tandem has no IEEE assignment; 0x6A5D0E has the
    /// low nibble of its first octet 0xA, the shape IEEE uses for CIDs (company ids from the
    /// locally-assigned space), so it cannot collide with a vendor's real OUI. Randomness lives
    /// in the remaining 100 bits.
    /// </summary>
    public const uint CompanyId = 0x6A5D0E;

    /// <summary>NAA field value for the IEEE Registered Extended format.</summary>
    private const byte NaaType = 6;

    public string NaaHex => Convert.ToHexStringLower(Naa);

    /// <summary>A new identity: NAA 6 | company id | 100 random bits; serial from the random part.</summary>
    public static DeviceIdentity CreateNew()
    {
        var naa = RandomNumberGenerator.GetBytes(NaaLength);
        // Bits 127..124: NAA = 6; bits 123..100: company id; bits 99..0 stay random.
        naa[0] = (byte)((NaaType << 4) | (CompanyId >> 20));
        naa[1] = (byte)((CompanyId >> 12) & 0xFF);
        naa[2] = (byte)((CompanyId >> 4) & 0xFF);
        naa[3] = (byte)(((CompanyId & 0xF) << 4) | (naa[3] & 0x0F));
        return new DeviceIdentity(naa, SerialFromNaa(naa));
    }

    /// <summary>16 hex digits: the last 64 bits of the NAA, all random, so serials are unique with it.</summary>
    public static string SerialFromNaa(byte[] naa) => Convert.ToHexString(naa, NaaLength - 8, 8);

    /// <summary>Parses a stored identity (32 hex digits NAA-6 + serial).</summary>
    public static DeviceIdentity Parse(string naaHex, string serial, string source)
    {
        byte[] naa;
        try
        {
            naa = Convert.FromHexString(naaHex);
        }
        catch (FormatException e)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"{source}: NAA identifier '{naaHex}' is not hexadecimal.", e);
        }

        if (naa.Length != NaaLength || naa[0] >> 4 != NaaType)
            throw new TandemException(ErrorCodes.ConfigError, $"{source}: NAA identifier '{naaHex}' is not a 16-byte NAA-6 identifier.");
        if (string.IsNullOrWhiteSpace(serial) || serial.Any(c => c is < (char)0x20 or > (char)0x7E))
            throw new TandemException(ErrorCodes.ConfigError, $"{source}: serial number is empty or not printable ASCII.");
        return new DeviceIdentity(naa, serial);
    }
}
