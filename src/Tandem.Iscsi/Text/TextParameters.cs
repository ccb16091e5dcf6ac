using System.Globalization;
using System.Text;

namespace Tandem.Iscsi.Text;

/// <summary>
/// iSCSI text parameters: <c>key=value</c> pairs, each terminated by a NUL byte (RFC 7143 §6.1).
/// Used by Login and Text PDUs; not on the I/O path, so plain strings are fine.
/// </summary>
internal static class TextParameters
{
    /// <summary>RFC 7143 §6.1: keys are at most 63 bytes.</summary>
    public const int MaxKeyLength = 63;

    /// <summary>RFC 7143 §6.1: values are at most 255 bytes unless the key says otherwise (8192 for some).</summary>
    public const int MaxValueLength = 8192;

    /// <summary>Parses a complete text data segment.</summary>
    /// <exception cref="FormatException">Malformed text (no '=', bad key, over-long key or value, duplicates).</exception>
    public static List<KeyValuePair<string, string>> Parse(ReadOnlySpan<byte> data)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (data.Length > 0)
        {
            int end = data.IndexOf((byte)0);
            ReadOnlySpan<byte> item = end < 0 ? data : data[..end];
            data = end < 0 ? default : data[(end + 1)..];
            if (item.Length == 0)
                continue; // tolerate padding NULs
            int eq = item.IndexOf((byte)'=');
            if (eq <= 0)
                throw new FormatException("text parameter without key=value form");
            if (eq > MaxKeyLength)
                throw new FormatException("text key longer than 63 bytes");
            ReadOnlySpan<byte> keyBytes = item[..eq];
            foreach (byte b in keyBytes)
            {
                if (!IsKeyChar(b))
                    throw new FormatException("text key has an invalid character");
            }
            ReadOnlySpan<byte> valueBytes = item[(eq + 1)..];
            if (valueBytes.Length > MaxValueLength)
                throw new FormatException("text value too long");
            foreach (byte b in valueBytes)
            {
                if (b < 0x20 || b > 0x7E)
                    throw new FormatException("text value has a non-printable character");
            }
            string key = Encoding.ASCII.GetString(keyBytes);
            if (!seen.Add(key))
                throw new FormatException($"text key {key} sent twice");
            pairs.Add(new(key, Encoding.ASCII.GetString(valueBytes)));
        }
        return pairs;
    }

    /// <summary>RFC 7143 §6.1: key names use letters, digits, '.', '-', '+', '@', '_' and '#' (X# keys).</summary>
    private static bool IsKeyChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
        or (byte)'.' or (byte)'-' or (byte)'+' or (byte)'@' or (byte)'_' or (byte)'#';

    /// <summary>Serializes pairs as NUL-terminated key=value strings.</summary>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var sb = new StringBuilder();
        foreach (var (key, value) in pairs)
            sb.Append(key).Append('=').Append(value).Append('\0');
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>
    /// Parses an RFC 7143 §6.1 numerical value: decimal, 0x hex, or 0b base64 (big-endian).
    /// </summary>
    public static bool TryParseNumber(string value, out ulong number)
    {
        number = 0;
        if (value.Length == 0)
            return false;
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            string hex = value[2..];
            return hex.Length is > 0 and <= 16 && ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number);
        }
        if (value.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
        {
            byte[] bytes;
            try { bytes = Convert.FromBase64String(value[2..]); }
            catch (FormatException) { return false; }
            if (bytes.Length is 0 or > 8)
                return false;
            foreach (byte b in bytes)
                number = (number << 8) | b;
            return true;
        }
        foreach (char c in value)
        {
            if (c is < '0' or > '9')
                return false;
        }
        return value.Length <= 19 && ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>Decodes an RFC 7143 §6.1 binary value (0x hex or 0b base64), as CHAP challenges and responses are sent.</summary>
    public static bool TryParseBinary(string value, out byte[] bytes)
    {
        bytes = [];
        if (value.Length < 3)
            return false;
        string body = value[2..];
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (body.Length % 2 == 1)
                body = "0" + body;
            try { bytes = Convert.FromHexString(body); return bytes.Length > 0; }
            catch (FormatException) { return false; }
        }
        if (value.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
        {
            try { bytes = Convert.FromBase64String(body); return bytes.Length > 0; }
            catch (FormatException) { return false; }
        }
        return false;
    }

    public static string FormatHex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);
}

/// <summary>RFC 7143 §6.2 special answers.</summary>
internal static class TextValues
{
    public const string NotUnderstood = "NotUnderstood";
    public const string Irrelevant = "Irrelevant";
    public const string Reject = "Reject";
    public const string Yes = "Yes";
    public const string No = "No";
    public const string None = "None";
}
