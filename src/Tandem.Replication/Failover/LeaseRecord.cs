using System.Globalization;
using System.Text;
using Tandem.Storage.Checksums;

namespace Tandem.Replication.Failover;

/// <summary>
/// One record of a file-share witness's chain (docs/design/file-share-witness.md): the ballot state
/// after step <see cref="Sequence"/>. Written once, never changed; a record is its own proof of
/// content (device, sequence and a CRC32C inside), so a torn, cut, misplaced or garbled file is
/// recognised as such and never mistaken for a free vote.
/// </summary>
/// <param name="Writer">The replica that published it.</param>
/// <param name="Nonce">Unique per record: tells a writer whether the file under its name is its own
/// (an NFS retry of a link that had succeeded answers EEXIST).</param>
internal sealed record LeaseRecord(long Sequence, WitnessBallotState State, int Writer, string Nonce)
{
    private const string Magic = "tandem-witness-record 1";

    public byte[] Encode(string device)
    {
        var text = new StringBuilder()
            .Append(Magic).Append('\n')
            .Append("device ").Append(device).Append('\n')
            .Append("sequence ").Append(Sequence.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("holder ").Append(Number(State.Holder)).Append('\n')
            .Append("generation ").Append(State.Generation ?? "-").Append('\n')
            .Append("last-holder ").Append(Number(State.LastHolder)).Append('\n')
            .Append("writer ").Append(Writer.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("nonce ").Append(Nonce).Append('\n')
            .ToString();
        byte[] body = Encoding.ASCII.GetBytes(text);
        string check = $"crc32c {Crc32C.Compute(body):x8}\n";
        return [.. body, .. Encoding.ASCII.GetBytes(check)];
    }

    /// <summary>
    /// Parses a record read from <c>sequence</c>'s file, or returns null with the reason it is not a
    /// valid record of that device and sequence.
    /// </summary>
    public static LeaseRecord? Decode(ReadOnlySpan<byte> bytes, string device, long sequence, out string problem)
    {
        int checkStart = bytes[..Math.Max(0, bytes.Length - 1)].LastIndexOf((byte)'\n') + 1;
        if (bytes.Length == 0 || bytes[^1] != (byte)'\n' || checkStart == 0)
            return Invalid($"cut short ({bytes.Length} bytes)", out problem);
        var body = bytes[..checkStart];
        string checkLine = Encoding.ASCII.GetString(bytes[checkStart..^1]);
        if (checkLine != $"crc32c {Crc32C.Compute(body):x8}")
            return Invalid("checksum mismatch", out problem);

        string[] lines = Encoding.ASCII.GetString(body[..^1]).Split('\n');
        string[] keys = ["device", "sequence", "holder", "generation", "last-holder", "writer", "nonce"];
        if (lines.Length != keys.Length + 1 || lines[0] != Magic)
            return Invalid("not a witness record of this version", out problem);
        var values = new string[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            string prefix = keys[i] + " ";
            if (!lines[i + 1].StartsWith(prefix, StringComparison.Ordinal))
                return Invalid($"line {i + 2} is not '{keys[i]}'", out problem);
            values[i] = lines[i + 1][prefix.Length..];
        }
        if (values[0] != device)
            return Invalid($"belongs to device {values[0]}", out problem);
        if (values[1] != sequence.ToString(CultureInfo.InvariantCulture))
            return Invalid($"says sequence {values[1]}", out problem);
        if (!TryNumber(values[2], out int? holder) || !TryNumber(values[4], out int? lastHolder) ||
            !int.TryParse(values[5], NumberStyles.None, CultureInfo.InvariantCulture, out int writer))
        {
            return Invalid("bad replica id", out problem);
        }
        problem = "";
        var state = new WitnessBallotState(holder, values[3] == "-" ? null : values[3], lastHolder);
        return new LeaseRecord(sequence, state, writer, values[6]);
    }

    private static LeaseRecord? Invalid(string why, out string problem)
    {
        problem = why;
        return null;
    }

    private static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static bool TryNumber(string text, out int? value)
    {
        value = null;
        if (text == "-")
            return true;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed))
            return false;
        value = parsed;
        return true;
    }
}
