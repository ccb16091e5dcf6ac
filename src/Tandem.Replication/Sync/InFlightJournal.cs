using System.IO.MemoryMappedFiles;
using System.Text;

namespace Tandem.Replication.Sync;

/// <summary>
/// Which extents this node has writes in flight to: a counter per 64 KiB extent in a memory-mapped
/// file beside the image (<c>&lt;name&gt;.inflight</c>), raised before a write leaves this node and
/// lowered when every partner has it. Updating it costs an atomic add on mapped memory, no system
/// call; the kernel keeps the pages when the process dies, so after a crash of this node the
/// extents whose counters are not zero are exactly those where this copy and its partners may
/// differ (a write applied here but never sent, or sent but not yet applied here). The survivor
/// copies its version of them back (fast sync), so a crash of a writing node needs no full sync.
/// </summary>
/// <remarks>
/// An operating-system crash or power loss loses the mapped pages together with the image's
/// unflushed writes: the file then carries another boot id, and the node asks for a full sync.
/// </remarks>
public sealed unsafe class InFlightJournal : IDisposable
{
    private const int HeaderBytes = 4096;
    private static readonly byte[] Magic = "TDMINFL1"u8.ToArray();

    /// <summary>Room for growth: the file counts four times the device's extents (at least 16384).</summary>
    private const int GrowthFactor = 4;

    /// <summary>Header byte set while the device has outgrown the file: the next run cannot trust it.</summary>
    private const int OverflowOffset = 40;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly int* _counters;
    private readonly int _blocksPerExtent;
    private readonly long _extents;

    private InFlightJournal(MemoryMappedFile file, MemoryMappedViewAccessor view, int blocksPerExtent, long extents)
    {
        _extents = extents;
        _file = file;
        _view = view;
        _blocksPerExtent = blocksPerExtent;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + view.PointerOffset;
        _counters = (int*)(_base + HeaderBytes);
    }

    /// <summary>What the file said about the previous run, read when it was opened.</summary>
    public JournalFindings Findings { get; private set; } = JournalFindings.Clean;

    /// <summary>
    /// Opens (or creates) the journal, reads what the previous run left, then clears it for this run.
    /// </summary>
    public static InFlightJournal Open(string path, int blockSize, long blockCount)
    {
        bool existed = File.Exists(path) && new FileInfo(path).Length >= HeaderBytes;
        long deviceExtents = (blockCount * blockSize + ReplicaLimits.ExtentBytes - 1) / ReplicaLimits.ExtentBytes;
        long extents = Math.Max(16384, deviceExtents * GrowthFactor + 1023) / 1024 * 1024;
        if (existed)
            extents = Math.Max(extents, (new FileInfo(path).Length - HeaderBytes) / sizeof(int) / 1024 * 1024);
        long capacity = HeaderBytes + extents * sizeof(int);
        // A sparse file: only the pages of extents ever written to take space.
        using (var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            if (stream.Length < capacity)
                stream.SetLength(capacity);
        }
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, capacity, MemoryMappedFileAccess.ReadWrite);
        var view = file.CreateViewAccessor(0, capacity, MemoryMappedFileAccess.ReadWrite);
        var journal = new InFlightJournal(file, view, ReplicaLimits.ExtentBytes / blockSize, extents);
        journal.Findings = existed ? journal.ReadPrevious(path) : JournalFindings.Clean;
        journal.StartRun();
        return journal;
    }

    private JournalFindings ReadPrevious(string path)
    {
        var header = new ReadOnlySpan<byte>(_base, HeaderBytes);
        if (!header[..Magic.Length].SequenceEqual(Magic))
            return JournalFindings.Unknown($"{path} is not an in-flight journal");
        if (!header.Slice(16, 16).SequenceEqual(BootId()))
            return JournalFindings.Unknown("the machine restarted since the last run");
        if (header[OverflowOffset] != 0)
            return JournalFindings.Unknown("the device outgrew its in-flight journal");
        var extents = new List<long>();
        // Pages never touched read as zeros without being allocated; skip whole zero pages.
        for (long e = 0; e < _extents; e++)
        {
            if (_counters[e] != 0)
                extents.Add(e);
            else if ((e & 1023) == 0 && IsZeroPage(e))
                e += 1023;
        }
        return new JournalFindings(false, extents, null);
    }

    /// <summary>Extents with writes in flight now, or that a partner failed to take (their counters stay raised).</summary>
    public List<long> ExtentsInFlight()
    {
        var extents = new List<long>();
        for (long e = 0; e < _extents; e++)
        {
            if (Volatile.Read(ref _counters[e]) != 0)
                extents.Add(e);
            else if ((e & 1023) == 0 && IsZeroPage(e))
                e += 1023;
        }
        return extents;
    }

    private bool IsZeroPage(long firstExtent)
    {
        var page = new ReadOnlySpan<byte>(_counters + firstExtent, 4096);
        return !page.ContainsAnyExcept((byte)0);
    }

    private void StartRun()
    {
        // Clear counters left by the previous run (only pages that were ever touched hold any).
        for (long e = 0; e < _extents; e += 1024)
        {
            if (!IsZeroPage(e))
                new Span<byte>(_counters + e, 4096).Clear();
        }
        var header = new Span<byte>(_base, HeaderBytes);
        Magic.CopyTo(header);
        BootId().CopyTo(header[16..]);
        header[OverflowOffset] = 0;
        _view.Flush();
    }

    /// <summary>Before a write leaves this node.</summary>
    public void Begin(long lba, long blockCount)
    {
        for (long e = lba / _blocksPerExtent; e <= (lba + blockCount - 1) / _blocksPerExtent; e++)
        {
            if (e < _extents)
                Interlocked.Increment(ref _counters[e]);
            else
                _base[OverflowOffset] = 1; // grown past the file (extend): the next run cannot trust it
        }
    }

    /// <summary>
    /// When every partner that was sent the write has it. A write a partner failed to take keeps
    /// its extents raised: after a crash of this node they are copied from the survivor again.
    /// </summary>
    public void End(long lba, long blockCount)
    {
        for (long e = lba / _blocksPerExtent; e <= (lba + blockCount - 1) / _blocksPerExtent && e < _extents; e++)
            Interlocked.Decrement(ref _counters[e]);
    }

    private static byte[] BootId()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            return Guid.TryParse(text, out var id) ? id.ToByteArray() : Encoding.ASCII.GetBytes(text.PadRight(16)[..16]);
        }
        catch (IOException)
        {
            return new byte[16];
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}

/// <summary>What the previous run left: extents whose copies may differ, or "unknown" (full sync).</summary>
public sealed record JournalFindings(bool IsUnknown, IReadOnlyList<long> Extents, string? Reason)
{
    public static JournalFindings Clean { get; } = new(false, [], null);
    public static JournalFindings Unknown(string reason) => new(true, [], reason);
}
