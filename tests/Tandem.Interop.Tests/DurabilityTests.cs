using System.Buffers.Binary;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// SIGKILL during writes: every write acknowledged with FUA, or acknowledged and followed by a
/// completed SYNCHRONIZE CACHE, must read back intact after the node restarts.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class DurabilityTests(ITestOutputHelper output)
{
    private const int BlockSize = 4096;
    private const uint Blocks = (128u << 20) / BlockSize;
    private const int BlocksPerWrite = 4;

    [Fact]
    public async Task KillDuringWrites_AcknowledgedDurableWritesSurvive()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var device = await node.CreateDeviceAsync(new { name = "durable", type = "image", sizeBytes = (long)Blocks * BlockSize, provisioning = "thick", sectorSize = BlockSize });
        var target = device.GetProperty("targetName").GetString()!;

        // Every write stamps its slot with (slot, generation); the expected content of a slot is
        // the last generation whose durability was acknowledged.
        var durable = new Dictionary<uint, uint>();
        var pendingSync = new Dictionary<uint, uint>();
        var killed = false;
        var writes = 0;
        var inFlightSlot = uint.MaxValue;
        await using (var session = await RawInitiator.ConnectAsync("127.0.0.1", node.IscsiPort))
        {
            await session.LoginAsync("iqn.2026-11.org.tandem.test:writer", target);
            var random = new Random(42);
            var killAt = DateTime.UtcNow.AddSeconds(3);
            var killer = Task.Run(async () =>
            {
                await Task.Delay(killAt - DateTime.UtcNow);
                await node.KillAsync();
            });
            try
            {
                for (uint generation = 1; ; generation++)
                {
                    var slot = (uint)random.Next((int)(Blocks / BlocksPerWrite));
                    var fua = random.Next(2) == 0;
                    inFlightSlot = slot;
                    var result = await session.Write10Async(slot * BlocksPerWrite, Stamp(slot, generation), BlockSize, fua);
                    Assert.True(result.IsGood, result.ToString());
                    writes++;
                    inFlightSlot = uint.MaxValue;
                    if (fua)
                    {
                        durable[slot] = generation;
                        pendingSync.Remove(slot);
                    }
                    else
                    {
                        pendingSync[slot] = generation;
                    }
                    if (generation % 16 == 0)
                    {
                        var sync = await session.SynchronizeCache10Async();
                        Assert.True(sync.IsGood, sync.ToString());
                        foreach (var (s, g) in pendingSync)
                            durable[s] = g;
                        pendingSync.Clear();
                    }
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or System.Net.Sockets.SocketException)
            {
                killed = true;
            }
            await killer;
        }
        Assert.True(killed);
        output.WriteLine($"{writes} writes acknowledged before SIGKILL; {durable.Count} slots with a durable generation");

        await node.StartAsync();
        await using var reader = await RawInitiator.ConnectAsync("127.0.0.1", node.IscsiPort);
        await reader.LoginAsync("iqn.2026-11.org.tandem.test:reader", target);
        foreach (var (slot, generation) in durable)
        {
            var read = await reader.Read10Async(slot * BlocksPerWrite, BlocksPerWrite, BlockSize);
            Assert.True(read.IsGood, read.ToString());
            var (readSlot, readGeneration) = (BinaryPrimitives.ReadUInt32LittleEndian(read.Data), BinaryPrimitives.ReadUInt32LittleEndian(read.Data.AsSpan(4)));
            Assert.Equal(slot, readSlot);
            // A later, not-yet-durable write to the same slot may also have landed: never an older one.
            Assert.True(readGeneration >= generation, $"slot {slot}: durable generation {generation} lost (read {readGeneration})");
            // Only the write in flight at the kill may be torn (SCSI promises no atomicity for it).
            if (slot != inFlightSlot)
                Assert.True(read.Data.AsSpan().SequenceEqual(Stamp(slot, readGeneration)), $"slot {slot} is torn");
        }
    }

    private static byte[] Stamp(uint slot, uint generation)
    {
        var buffer = new byte[BlocksPerWrite * BlockSize];
        var random = new Random(HashCode.Combine(slot, generation));
        random.NextBytes(buffer);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, slot);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(4), generation);
        return buffer;
    }
}
