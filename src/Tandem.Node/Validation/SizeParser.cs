using System.Globalization;

namespace Tandem.Node.Validation;

/// <summary>
/// Parses sizes as administrators type them: plain bytes ("1048576"), binary units
/// (K, KiB, M, MiB, G, GiB, T, TiB, P, PiB = powers of 1024) and decimal units (KB, MB, GB, TB, PB =
/// powers of 1000), case-insensitive, with an optional space before the unit. Only whole numbers:
/// a block size is never fractional, and "1.5G" is ambiguous to half the audience.
/// </summary>
public static class SizeParser
{
    private static readonly (string Suffix, long Multiplier)[] Units =
    [
        // Longest suffixes first so "KiB" is not read as "K" + garbage.
        ("kib", 1L << 10), ("mib", 1L << 20), ("gib", 1L << 30), ("tib", 1L << 40), ("pib", 1L << 50),
        ("kb", 1_000L), ("mb", 1_000_000L), ("gb", 1_000_000_000L), ("tb", 1_000_000_000_000L), ("pb", 1_000_000_000_000_000L),
        ("k", 1L << 10), ("m", 1L << 20), ("g", 1L << 30), ("t", 1L << 40), ("p", 1L << 50),
        ("b", 1L),
    ];

    public static bool TryParse(string? text, out long bytes, out string error)
    {
        bytes = 0;
        error = "";
        var s = text?.Trim() ?? "";
        if (s.Length == 0)
        {
            error = "size is empty; give bytes or a number with a unit, e.g. 10G, 512MiB, 4096";
            return false;
        }

        var lower = s.ToLowerInvariant();
        long multiplier = 1;
        var number = lower;
        foreach (var (suffix, mult) in Units)
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal))
            {
                multiplier = mult;
                number = lower[..^suffix.Length].TrimEnd();
                break;
            }
        }

        if (number.StartsWith('-'))
        {
            error = $"size '{s}' is negative";
            return false;
        }

        if (number.Length == 0 || !number.All(char.IsAsciiDigit))
        {
            error = $"'{s}' is not a size; use bytes or a whole number with a unit (K, KiB, M, MiB, G, GiB, T, TiB, KB, MB, GB, TB)";
            return false;
        }

        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            error = $"size '{s}' is too large";
            return false;
        }

        if (value == 0)
        {
            error = "size must be greater than zero";
            return false;
        }

        try
        {
            bytes = checked(value * multiplier);
        }
        catch (OverflowException)
        {
            error = $"size '{s}' is too large";
            return false;
        }

        return true;
    }

    public static long Parse(string text) =>
        TryParse(text, out var bytes, out var error) ? bytes : throw new FormatException(error);

    /// <summary>Human form for messages and tables: exact binary unit when it divides evenly, else bytes.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        var unit = 0;
        double value = bytes;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? $"{bytes} B"
            : value == Math.Floor(value)
                ? string.Create(CultureInfo.InvariantCulture, $"{value:0} {units[unit]}")
                : string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {units[unit]}");
    }
}
