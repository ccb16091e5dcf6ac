namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>
/// A well-behaved session that keeps writing random blocks and reading them back while a test
/// does something nasty elsewhere: proves other sessions are not harmed.
/// </summary>
public sealed class VerifiedIoLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private VerifiedIoLoop(RawInitiator session, int blockSize, uint firstLba, uint blockCount)
    {
        _loop = Task.Run(async () =>
        {
            var random = new Random(1234);
            var data = new byte[8 * blockSize];
            while (!_stop.IsCancellationRequested)
            {
                random.NextBytes(data);
                var lba = firstLba + (uint)random.Next((int)blockCount - 8);
                var write = await session.Write10Async(lba, data, blockSize);
                if (!write.IsGood)
                    throw new InvalidOperationException($"verified write failed: {write}");
                var read = await session.Read10Async(lba, 8, blockSize);
                if (!read.IsGood || !read.Data.AsSpan().SequenceEqual(data))
                    throw new InvalidOperationException($"verified read returned other data: {read}");
                Interlocked.Increment(ref _verified);
            }
        });
        Session = session;
    }

    private long _verified;

    public RawInitiator Session { get; }
    public long Verified => Interlocked.Read(ref _verified);

    public static async Task<VerifiedIoLoop> StartAsync(TandemNode node, string targetName, int blockSize, uint firstLba, uint blockCount)
    {
        var session = await RawInitiator.ConnectAsync(node.PortalAddresses[0].ToString(), node.IscsiPort);
        await session.LoginAsync("iqn.2026-11.org.tandem.test:bystander", targetName);
        return new VerifiedIoLoop(session, blockSize, firstLba, blockCount);
    }

    /// <summary>Stops the loop and rethrows anything it saw go wrong.</summary>
    public async Task<long> StopAsync()
    {
        _stop.Cancel();
        await _loop;
        return Verified;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _loop; } catch { /* reported by StopAsync when the test cares */ }
        await Session.DisposeAsync();
    }
}
