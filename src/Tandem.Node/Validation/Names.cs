using System.Text.RegularExpressions;
using Tandem.Node.Errors;

namespace Tandem.Node.Validation;

/// <summary>Rules for the names administrators give to devices, aliases and nodes.</summary>
public static partial class Names
{
    /// <summary>Implementation limit: a device name becomes part of file names and of the target IQN.</summary>
    public const int MaxDeviceNameLength = 63;

    /// <summary>Device names: safe as file names on every platform (no '/', no leading dot or dash).</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex DeviceNamePattern();

    /// <summary>Target aliases and node names end up inside an IQN, whose characters are lowercase
    /// letters, digits, '-' and '.' (RFC 3720 §3.2.6.2 / RFC 3722).</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{0,62}$")]
    private static partial Regex IqnLabelPattern();

    public static bool IsValidDeviceName(string? name) => name is not null && DeviceNamePattern().IsMatch(name);

    public static void ValidateDeviceName(string? name)
    {
        if (string.IsNullOrEmpty(name))
            throw new TandemException(ErrorCodes.InvalidName, "A device name is required.");
        if (!IsValidDeviceName(name))
            throw new TandemException(ErrorCodes.InvalidName,
                $"Device name '{Printable(name)}' is invalid: use 1 to {MaxDeviceNameLength} letters, digits, '.', '_' or '-', starting with a letter or digit.");
    }

    public static bool IsValidIqnLabel(string? label) => label is not null && IqnLabelPattern().IsMatch(label);

    public static void ValidateTargetAlias(string alias)
    {
        if (!IsValidIqnLabel(alias))
            throw new TandemException(ErrorCodes.InvalidName,
                $"Target alias '{Printable(alias)}' is invalid: use 1 to 63 lowercase letters, digits, '.' or '-', starting with a letter or digit (it becomes part of the target IQN).");
    }

    /// <summary>
    /// Default alias for a device: its name made IQN-safe (lowercase, '_' becomes '-'), so device
    /// "Web_01" gets target "...:node-web-01".
    /// </summary>
    public static string AliasFromDeviceName(string deviceName) =>
        deviceName.ToLowerInvariant().Replace('_', '-');

    /// <summary>
    /// A node name from a host name: lowercased; characters an IQN cannot hold become '-';
    /// falls back to "tandem" when nothing usable is left.
    /// </summary>
    public static string SanitizeNodeName(string? hostName)
    {
        var chars = (hostName ?? "").ToLowerInvariant()
            .Select(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' ? c : '-')
            .ToArray();
        var name = new string(chars).Trim('-', '.');
        if (name.Length > 63)
            name = name[..63].TrimEnd('-', '.');
        return name.Length == 0 ? "tandem" : name;
    }

    public static void ValidateNodeName(string name)
    {
        if (!IsValidIqnLabel(name))
            throw new TandemException(ErrorCodes.InvalidName,
                $"Node name '{Printable(name)}' is invalid: use 1 to 63 lowercase letters, digits, '.' or '-', starting with a letter or digit (it becomes part of target IQNs).");
    }

    /// <summary>Keeps error messages readable and single-line whatever the client sent.</summary>
    public static string Printable(string? text, int max = 80)
    {
        if (text is null) return "";
        var clean = new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return clean.Length <= max ? clean : clean[..max] + "...";
    }
}
