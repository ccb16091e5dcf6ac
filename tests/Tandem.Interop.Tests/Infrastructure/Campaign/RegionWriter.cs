using System.Security.Cryptography;

namespace Tandem.Interop.Tests.Infrastructure.Campaign;

/// <summary>
/// A steady stream of 4 KiB writes through one session on one data node, into that node's own LBA
/// region, recorded in the <see cref="WriteLedger"/>; a write the node does not acknowledge (NOT
/// READY while it decides or is stopped, a unit attention, a lost connection, a timeout) is
/// retried with the same data at the same LBA, after reconnecting if need be. Every half second
/// it also reads back, through the same session, the newest acknowledged write of every other
/// node's region: data older than that is a stale read.
/// </summary>
internal sealed class RegionWriter(int node, uint firstLba, int slots, Func<Task<RawInitiator>> connect, WriteLedger ledger, IReadOnlyList<int> otherRegions)
{
    public const int Blocks = 8;
    public const int BlockSize = 512;

    /// <summary>Consecutive writes are this many slots apart (68 KiB: each in another 64 KiB extent).</summary>
    private const int SlotStep = 17;

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ReadCheckEvery = TimeSpan.FromMilliseconds(500);

    private readonly List<StaleRead> _staleReads = [];

    public int Node { get; } = node;
    public int Acknowledged { get; private set; }
    public int NotReady { get; private set; }
    public int Reconnects { get; private set; }
    public int ReadChecks { get; private set; }
    public List<string> UnexpectedErrors { get; } = [];
    public IReadOnlyList<StaleRead> StaleReads => _staleReads;

    /// <summary>Writes (and checks) until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        RawInitiator? session = null;
        WriteLedger.SlotWrite? pending = null;
        long index = 0;
        var nextCheck = DateTime.UtcNow;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (session is null)
                {
                    session = await TryConnectAsync();
                    if (session is null)
                    {
                        await Pause(500, stop);
                        continue;
                    }
                }
                pending ??= ledger.Issue(Node, SlotLba(index++), RandomNumberGenerator.GetBytes(Blocks * BlockSize));
                var result = await TimedAsync(session.Write10Async(pending.Lba, pending.Data, BlockSize));
                if (result is null)
                {
                    session = await DropAsync(session);
                    continue;
                }
                if (result.IsGood)
                {
                    ledger.Acknowledge(pending);
                    pending = null;
                    Acknowledged++;
                    await Pause(20, stop);
                }
                else
                {
                    Classify(result, "write");
                    await Pause(200, stop);
                }
                if (DateTime.UtcNow >= nextCheck && session is not null)
                {
                    nextCheck = DateTime.UtcNow + ReadCheckEvery;
                    if (!await CheckOthersAsync(session))
                        session = await DropAsync(session);
                }
            }
        }
        finally
        {
            if (session is not null)
                await session.DisposeAsync();
        }
    }

    private uint SlotLba(long index) => firstLba + (uint)(index * SlotStep % slots * Blocks);

    /// <summary>Reads the newest acknowledged write of each other region; false when the session broke.</summary>
    private async Task<bool> CheckOthersAsync(RawInitiator session)
    {
        foreach (int region in otherRegions)
        {
            if (ledger.LastAcknowledged(region) is not { } newest)
                continue;
            var startedAt = DateTime.UtcNow;
            var read = await TimedAsync(session.Read10Async(newest.Lba, Blocks, BlockSize));
            if (read is null)
                return false;
            if (!read.IsGood)
            {
                Classify(read, "read");
                continue;
            }
            ReadChecks++;
            if (!ledger.IsAtLeast(newest, read.Data))
            {
                lock (_staleReads)
                    _staleReads.Add(new StaleRead(Node, region, newest.Lba, newest.AcknowledgedAt!.Value, startedAt, DateTime.UtcNow, read.Data.All(b => b == 0)));
            }
        }
        return true;
    }

    private void Classify(ScsiResult result, string what)
    {
        // NOT READY (deciding, stopped, being synchronized) and UNIT ATTENTION (ALUA state
        // changes, a new nexus after a restart) are what an initiator retries through failover.
        if (result.Status == 2 && result.SenseKey is 2 or 6)
        {
            NotReady++;
            return;
        }
        if (UnexpectedErrors.Count < 20)
            UnexpectedErrors.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {what} through node {Node}: {result}");
    }

    private async Task<RawInitiator?> TryConnectAsync()
    {
        var connecting = connect();
        try
        {
            if (await Task.WhenAny(connecting, Task.Delay(CommandTimeout)) == connecting)
                return await connecting;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or LoginRefusedException or RejectedException or EndOfStreamException or InvalidOperationException)
        {
            return null;
        }
        _ = connecting.ContinueWith(t => { if (t.IsCompletedSuccessfully) _ = t.Result.DisposeAsync(); }, TaskScheduler.Default);
        return null;
    }

    private async Task<RawInitiator?> DropAsync(RawInitiator session)
    {
        Reconnects++;
        await session.DisposeAsync();
        return null;
    }

    /// <summary>The command's result, or null when the connection broke or it took longer than <see cref="CommandTimeout"/>.</summary>
    private static async Task<ScsiResult?> TimedAsync(Task<ScsiResult> command)
    {
        try
        {
            if (await Task.WhenAny(command, Task.Delay(CommandTimeout)) != command)
            {
                _ = command.ContinueWith(t => _ = t.Exception, TaskScheduler.Default); // observed once the session is disposed
                return null;
            }
            return await command;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or EndOfStreamException or RejectedException or ObjectDisposedException)
        {
            return null;
        }
    }

    private static async Task Pause(int milliseconds, CancellationToken stop)
    {
        try
        {
            await Task.Delay(milliseconds, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>
/// A read through <see cref="Reader"/> that returned data older than the newest write
/// acknowledged through <see cref="Region"/>'s node (acknowledged at <see cref="AcknowledgedAt"/>,
/// before the read started).
/// </summary>
public sealed record StaleRead(int Reader, int Region, uint Lba, DateTime AcknowledgedAt, DateTime ReadStarted, DateTime ReadEnded, bool Zeros)
{
    public override string ToString() =>
        $"{ReadStarted:HH:mm:ss.fff} read through node {Reader} of LBA {Lba} (node {Region}'s region) returned {(Zeros ? "zeros" : "older data")}; " +
        $"the write there was acknowledged at {AcknowledgedAt:HH:mm:ss.fff}";
}
