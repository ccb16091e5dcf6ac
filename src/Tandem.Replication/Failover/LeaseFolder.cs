using Tandem.Storage.Native;
using System.Globalization;
using System.Security.Cryptography;

namespace Tandem.Replication.Failover;

/// <summary>
/// The files of one device's witness on the share: <c>DIR/tandem-witness-NAA/</c> holding the chain
/// <c>00000000000000000042.record</c> (one per step, never rewritten) and, briefly, a writer's
/// <c>staging-NODE-NONCE</c> file. Every read is a fresh open; the only step that decides between
/// nodes is link(2) onto the next sequence's name, which the server does atomically.
/// </summary>
internal sealed class LeaseFolder(string share, string device)
{
    private const string RecordSuffix = ".record";
    private const string StagingPrefix = "staging-";

    public string Share { get; } = share;
    public string Device { get; } = device;
    public string Path { get; } = System.IO.Path.Combine(share, FolderName(device));

    public static string FolderName(string device) => "tandem-witness-" + device;

    public string RecordPath(long sequence) =>
        System.IO.Path.Combine(Path, sequence.ToString("D20", CultureInfo.InvariantCulture) + RecordSuffix);

    /// <summary>Throws <see cref="WitnessShareException"/> unless the share and the device's folder are there.</summary>
    public void CheckPresent()
    {
        if (!Directory.Exists(Share))
            throw new WitnessShareException($"the witness path {Share} does not exist (share not mounted?)");
        // Never created here: on a share that is not mounted, the mount point is an empty local
        // folder, and a witness made there would vote for whichever node asks.
        if (!Directory.Exists(Path))
            throw new WitnessShareException($"{Path} is missing: the share is not mounted here, or the witness was not added (tandem witness add)");
    }

    /// <summary>Sequences of the records the listing shows (it may lag behind the server; only a starting point).</summary>
    public List<long> ListSequences()
    {
        var sequences = new List<long>();
        foreach (string file in Directory.EnumerateFiles(Path, "*" + RecordSuffix))
        {
            string name = System.IO.Path.GetFileName(file)[..^RecordSuffix.Length];
            if (name.Length == 20 && long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
                sequences.Add(sequence);
        }
        sequences.Sort();
        return sequences;
    }

    /// <summary>Reads record <paramref name="sequence"/> from the server.</summary>
    public RecordRead Read(long sequence)
    {
        byte[]? bytes = ShareCalls.ReadSmallFile(RecordPath(sequence));
        if (bytes is null)
            return RecordRead.Missing;
        var record = LeaseRecord.Decode(bytes, Device, sequence, out string problem);
        return record is null ? RecordRead.Corrupt(problem) : RecordRead.Valid(record);
    }

    /// <summary>
    /// Publishes <paramref name="record"/> under its sequence's name unless that name is taken:
    /// written and fsynced under a private name first, then linked, so the record appears whole or
    /// not at all (a crash leaves only the staging file). False: another record has that sequence.
    /// </summary>
    public bool Publish(LeaseRecord record)
    {
        string staging = System.IO.Path.Combine(Path, $"{StagingPrefix}{record.Writer}-{record.Nonce}");
        string target = RecordPath(record.Sequence);
        try
        {
            using (var stream = new FileStream(staging, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 }))
            {
                stream.Write(record.Encode(Device));
                stream.Flush(flushToDisk: true);
            }
            int errno = ShareCalls.Link(staging, target);
            if (ShareCalls.IsLinkUnsupported(errno))
                throw new WitnessShareException($"the share at {Share} cannot make hard links, which the file-share witness needs (use NFS, or SMB through the kernel cifs client): {ShareCalls.Error("link", target, errno).Message}");
            if (errno == ShareCalls.EEXIST)
                return IsOwn(record);
            if (errno != 0)
                throw ShareCalls.Error("link", target, errno);
            ShareCalls.FSyncDirectory(Path);
            return true;
        }
        finally
        {
            TryDelete(staging);
        }
    }

    /// <summary>Removes a record (pruning, or undoing one published on a view that proved stale).</summary>
    public void Delete(long sequence) => File.Delete(RecordPath(sequence));

    /// <summary>Removes staging files a crashed writer of this replica left (never another replica's, which may be in use).</summary>
    public void DeleteLeftovers(int writer)
    {
        foreach (string file in Directory.EnumerateFiles(Path, $"{StagingPrefix}{writer}-*"))
            TryDelete(file);
    }

    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    // A link that succeeded at the server but whose reply was lost is retried by the NFS client and
    // answered EEXIST: the nonce says whether the record under the name is this one.
    private bool IsOwn(LeaseRecord record) =>
        Read(record.Sequence) is { Record: { } existing } && existing.Nonce == record.Nonce && existing.Writer == record.Writer;

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>What reading one record found.</summary>
internal readonly record struct RecordRead(LeaseRecord? Record, string? Problem)
{
    public static RecordRead Missing => default;
    public static RecordRead Valid(LeaseRecord record) => new(record, null);
    public static RecordRead Corrupt(string problem) => new(null, problem);
    public bool Exists => Record is not null || Problem is not null;
}

/// <summary>The share cannot be used as it is (missing, not mounted, no hard links): the witness is unreachable.</summary>
internal sealed class WitnessShareException(string message) : IOException(message);
