namespace Tandem.Cli.Output;

/// <summary>A plain aligned text table: header row, then rows; columns padded to their widest cell.</summary>
public sealed class Table(params string[] headers)
{
    /// <summary>Spaces between columns.</summary>
    private const int Gap = 2;

    private readonly List<string[]> _rows = [];

    public Table Add(params object?[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"Expected {headers.Length} cells, got {cells.Length}.");
        _rows.Add(cells.Select(c => c?.ToString() ?? "-").ToArray());
        return this;
    }

    public void Write(TextWriter writer)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        WriteRow(writer, headers, widths);
        foreach (var row in _rows)
            WriteRow(writer, row, widths);
    }

    private static void WriteRow(TextWriter writer, string[] cells, int[] widths)
    {
        var parts = cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i] + Gap));
        writer.WriteLine(string.Concat(parts).TrimEnd());
    }
}

/// <summary>"Key: value" blocks for single objects (device show, node show).</summary>
public static class KeyValues
{
    public static void Write(TextWriter writer, IEnumerable<(string Key, object? Value)> pairs)
    {
        var list = pairs.ToList();
        var width = list.Max(p => p.Key.Length) + 1;
        foreach (var (key, value) in list)
            writer.WriteLine($"{(key + ":").PadRight(width)} {value?.ToString() ?? "-"}");
    }
}
