using System.Diagnostics;

namespace Tandem.Replication.Sync;

/// <summary>Figures of one synchronization, updated as it runs (thread-safe reads).</summary>
public sealed class SyncProgress(string kind, int sourceNodeId, int targetNodeId, long bytesTotal)
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _bytesDone;
    private long _finishedTicks;

    /// <summary>"full" or "fast".</summary>
    public string Kind { get; } = kind;
    public int SourceNodeId { get; } = sourceNodeId;
    public int TargetNodeId { get; } = targetNodeId;
    public long BytesTotal { get; } = bytesTotal;
    public long BytesDone => Interlocked.Read(ref _bytesDone);
    public bool Finished => Interlocked.Read(ref _finishedTicks) != 0;

    public TimeSpan Elapsed => Finished
        ? Stopwatch.GetElapsedTime(_started, Interlocked.Read(ref _finishedTicks))
        : Stopwatch.GetElapsedTime(_started);

    public double Percent => BytesTotal == 0 ? 100 : Math.Min(100, 100.0 * BytesDone / BytesTotal);

    public long RateBytesPerSecond => Elapsed.TotalSeconds > 0 ? (long)(BytesDone / Elapsed.TotalSeconds) : 0;

    public double? EtaSeconds
    {
        get
        {
            long rate = RateBytesPerSecond;
            if (Finished)
                return 0;
            return rate > 0 ? (BytesTotal - BytesDone) / (double)rate : null;
        }
    }

    internal void Add(long bytes) => Interlocked.Add(ref _bytesDone, bytes);

    internal void Finish() => Interlocked.Exchange(ref _finishedTicks, Stopwatch.GetTimestamp());
}
