using System.Text;
using System.Text.RegularExpressions;
using Tandem.Node.Errors;

namespace Tandem.Node.Validation;

/// <summary>
/// iSCSI name syntax (RFC 7143 §4.2.7, RFC 3720 §3.2.6.3, RFC 3722 normalisation).
/// We accept names in normalised form only (lowercase iqn), so what the administrator typed is
/// exactly what initiators see and match against.
/// </summary>
public static partial class IscsiNames
{
    /// <summary>RFC 7143 §6.1: an iSCSI name is at most 223 bytes (UTF-8).</summary>
    public const int MaxNameBytes = 223;

    /// <summary>
    /// iqn.yyyy-mm.reverse.domain[:anything]: date with a valid month, a reversed domain of DNS
    /// labels, optional suffix of lowercase letters, digits, '-', '.', ':'.
    /// </summary>
    [GeneratedRegex(@"^iqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[a-z0-9.:-]*)?$")]
    private static partial Regex IqnPattern();

    /// <summary>EUI-64 format: "eui." + 16 hex digits (RFC 3720 §3.2.6.3.2).</summary>
    [GeneratedRegex("^eui\\.[0-9A-Fa-f]{16}$")]
    private static partial Regex EuiPattern();

    /// <summary>NAA format: "naa." + 16 or 32 hex digits (RFC 3980).</summary>
    [GeneratedRegex("^naa\\.([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})$")]
    private static partial Regex NaaPattern();

    public static bool IsValidIqn(string? name) =>
        name is not null && Encoding.UTF8.GetByteCount(name) <= MaxNameBytes && IqnPattern().IsMatch(name);

    /// <summary>Any initiator name form an ACL may hold: iqn., eui. or naa.</summary>
    public static bool IsValidInitiatorName(string? name) =>
        name is not null && Encoding.UTF8.GetByteCount(name) <= MaxNameBytes
        && (IqnPattern().IsMatch(name) || EuiPattern().IsMatch(name) || NaaPattern().IsMatch(name));

    public static void ValidateTargetName(string name)
    {
        if (IsValidIqn(name)) return;
        var why = Encoding.UTF8.GetByteCount(name) > MaxNameBytes
            ? $"it is longer than {MaxNameBytes} bytes (RFC 7143)"
            : name.Any(char.IsAsciiLetterUpper)
                ? "iSCSI names are lowercase (RFC 3722)"
                : "expected iqn.yyyy-mm.reversed.domain[:identifier], e.g. iqn.2026-11.org.example:disk1";
        throw new TandemException(ErrorCodes.InvalidName, $"Target name '{Names.Printable(name)}' is not a valid iSCSI qualified name: {why}.");
    }

    public static void ValidateIqnPrefix(string prefix)
    {
        if (!IsValidIqn(prefix) || prefix.Contains(':'))
            throw new TandemException(ErrorCodes.InvalidName,
                $"IQN prefix '{Names.Printable(prefix)}' is invalid: expected iqn.yyyy-mm.reversed.domain without ':', e.g. iqn.2026-11.org.tandem.");
    }

    public static void ValidateInitiatorName(string name)
    {
        if (IsValidInitiatorName(name)) return;
        var why = name.StartsWith("iqn.", StringComparison.Ordinal) && name.Any(char.IsAsciiLetterUpper)
            ? "iSCSI names are lowercase (RFC 3722)"
            : "expected iqn.yyyy-mm.reversed.domain[:identifier], eui.<16 hex digits> or naa.<16 or 32 hex digits>";
        throw new TandemException(ErrorCodes.InvalidName, $"Initiator name '{Names.Printable(name)}' is not a valid iSCSI name: {why}.");
    }
}
