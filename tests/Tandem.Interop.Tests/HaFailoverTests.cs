using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// SIGKILL of one node of a two-way HA device during writes: the survivor keeps serving every
/// acknowledged write, the killed node comes back through a fast sync of exactly the extents it
/// missed, and REPORT TARGET PORT GROUPS through each node follows the states.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class HaFailoverTests(ITestOutputHelper output)
{
    private const int BlockSize = 512;
    private const int WriteBlocks = 8; // 4 KiB writes

    [Fact]
    public async Task Killed_partner_returns_through_a_fast_sync_and_no_acknowledged_write_is_lost()
    {
        using var data = new TempDirectory();
        var (a, b, target) = await HaTests.StartPairAsync(data, "ha-kill", 64L << 20, output);
        await using (a)
        await using (b)
        {
            await using var session = await RawInitiator.ConnectAsync("127.0.0.1", a.IscsiPort);
            await session.LoginAsync("iqn.2026-11.org.tandem.test:kill", target);
            Assert.Equal([(1, 0), (2, 0)], await ReportGroupsAsync(session)); // both active/optimized

            var acknowledged = new Dictionary<uint, byte[]>();
            uint next = 0;
            async Task WriteSomeAsync(int count)
            {
                for (int i = 0; i < count; i++)
                {
                    byte[] block = RandomNumberGenerator.GetBytes(WriteBlocks * BlockSize);
                    uint lba = next;
                    next += 64 * 1024 / BlockSize * 3 / 2 / WriteBlocks * WriteBlocks; // spread over extents
                    var result = await RetryOnUnitAttentionAsync(() => session.Write10Async(lba, block, BlockSize));
                    Assert.True(result.IsGood, $"write at {lba} failed: {result}");
                    acknowledged[lba] = block;
                }
            }

            await WriteSomeAsync(40);

            // Active-active: another initiator writes through B (to other blocks) until B dies;
            // its writes in flight at the kill are what B's in-flight journal accounts for.
            await using var throughB = await RawInitiator.ConnectAsync("127.0.0.2", b.IscsiPort);
            await throughB.LoginAsync("iqn.2026-11.org.tandem.test:kill-via-b", target);
            using var stopB = new CancellationTokenSource();
            var writingThroughB = Task.Run(async () =>
            {
                var random = new Random(7);
                byte[] block = new byte[WriteBlocks * BlockSize];
                try
                {
                    while (!stopB.IsCancellationRequested)
                    {
                        random.NextBytes(block);
                        await throughB.Write10Async((uint)(60000 + random.Next(0, 60000)), block, BlockSize);
                    }
                }
                catch (Exception)
                {
                    // B was killed under it.
                }
            });
            var writing = WriteSomeAsync(200);
            await Task.Delay(100);
            await b.KillAsync();
            await writing;
            stopB.Cancel();
            await writingThroughB;
            await WriteSomeAsync(20);

            // The survivor serves every acknowledged write and reports its partner unavailable.
            await VerifyAsync(session, acknowledged);
            Assert.Equal([(1, 0), (2, 3)], await ReportGroupsAsync(session));
            var set = await a.GetJsonAsync("api/v1/devices/ha-kill/replicas");
            var partner = set.GetProperty("nodes")[1];
            Assert.Equal("not-synchronized", partner.GetProperty("state").GetString());
            long dirty = partner.GetProperty("dirtyBytes").GetInt64();
            output.WriteLine($"after the kill: {acknowledged.Count} acknowledged writes, {dirty} dirty bytes on node A");
            Assert.True(dirty > 0 && dirty % (64 * 1024) == 0, set.ToString());

            // The killed node returns: fast sync of exactly the marked extents.
            await b.StartAsync();
            await HaTests.WaitSynchronizedAsync(a, b, "ha-kill");
            set = await a.GetJsonAsync("api/v1/devices/ha-kill/replicas");
            var lastSync = set.GetProperty("nodes")[1].GetProperty("lastSync");
            output.WriteLine($"resync: {lastSync}");
            Assert.Equal("fast", lastSync.GetProperty("kind").GetString());
            // The extents A marked, plus those B had writes in flight to when it died (B's journal).
            long copied = lastSync.GetProperty("bytesDone").GetInt64();
            Assert.True(copied >= dirty && copied % (64 * 1024) == 0, $"copied {copied}, dirty {dirty}");
            Assert.True(copied - dirty <= 32L * 64 * 1024, $"copied {copied}, dirty {dirty}: more than B's queue could have had in flight");
            Assert.Equal([(1, 0), (2, 0)], await ReportGroupsAsync(session));

            await using var viaB = await RawInitiator.ConnectAsync("127.0.0.2", b.IscsiPort);
            await viaB.LoginAsync("iqn.2026-11.org.tandem.test:kill-b", target);
            Assert.Equal([(1, 0), (2, 0)], await ReportGroupsAsync(viaB));
            await VerifyAsync(viaB, acknowledged);

            var verify = await a.PostJsonAsync("api/v1/devices/ha-kill/verify", null);
            Assert.True(verify.GetProperty("identical").GetBoolean(), verify.ToString());
            output.WriteLine($"{acknowledged.Count} acknowledged writes read back through both nodes; verify: {verify}");
        }
    }

    private static async Task VerifyAsync(RawInitiator session, Dictionary<uint, byte[]> acknowledged)
    {
        foreach (var (lba, block) in acknowledged)
        {
            var read = await RetryOnUnitAttentionAsync(() => session.Read10Async(lba, WriteBlocks, BlockSize));
            Assert.True(read.IsGood && read.Data.AsSpan().SequenceEqual(block), $"block {lba} lost or torn: {read}");
        }
    }

    /// <summary>REPORT TARGET PORT GROUPS: (group id, asymmetric access state) per group.</summary>
    internal static async Task<(int Group, int State)[]> ReportGroupsAsync(RawInitiator session)
    {
        byte[] cdb = [0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0];
        var result = await RetryOnUnitAttentionAsync(() => session.ExecuteAsync(cdb, dataInLength: 1024));
        Assert.True(result.IsGood, $"RTPG failed: {result}");
        var groups = new List<(int, int)>();
        int length = BinaryPrimitives.ReadInt32BigEndian(result.Data) + 4;
        for (int at = 4; at + 8 <= Math.Min(length, result.Data.Length);)
        {
            groups.Add((BinaryPrimitives.ReadUInt16BigEndian(result.Data.AsSpan(at + 2)), result.Data[at] & 0x0F));
            at += 8 + 4 * result.Data[at + 7];
        }
        return [.. groups];
    }

    internal static async Task<ScsiResult> RetryOnUnitAttentionAsync(Func<Task<ScsiResult>> command)
    {
        for (int attempt = 0; ; attempt++)
        {
            var result = await command();
            if (result.Status != 2 || result.SenseKey != 6 || attempt == 5)
                return result;
        }
    }
}
