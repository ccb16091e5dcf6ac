using System.Buffers.Binary;
using System.Net.Http.Json;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>What an initiator sees of node-level operations: online extend, many sessions, APTPL across a restart.</summary>
[Collection(InteropCollection.Name)]
public sealed class NodeBehaviourTests(ITestOutputHelper output)
{
    private const int BlockSize = 512;

    [Fact]
    public async Task OnlineExtend_RaisesCapacityDataHasChanged_AndNewCapacityIsServed()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var device = await node.CreateDeviceAsync(new { name = "grow", type = "image", sizeBytes = 64L << 20, provisioning = "thin", sectorSize = BlockSize });
        var target = device.GetProperty("targetName").GetString()!;
        await using var session = await RawInitiator.ConnectAsync("127.0.0.1", node.IscsiPort);
        await session.LoginAsync("iqn.2026-11.org.tandem.test:grower", target);
        var pattern = new byte[BlockSize];
        new Random(3).NextBytes(pattern);
        Assert.True((await session.Write10Async(100, pattern, BlockSize)).IsGood);

        using (var response = await node.Api.PostAsJsonAsync("api/v1/devices/grow/extend", new { sizeBytes = 128L << 20 }))
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        var attention = await session.TestUnitReadyAsync();
        Assert.Equal(0x02, attention.Status);
        Assert.Equal((0x6, 0x2a, 0x09), (attention.SenseKey, attention.Asc, attention.Ascq)); // CAPACITY DATA HAS CHANGED
        Assert.True((await session.TestUnitReadyAsync()).IsGood);

        var capacity = await session.ExecuteAsync(new byte[] { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 }, dataInLength: 32);
        Assert.True(capacity.IsGood, capacity.ToString());
        Assert.Equal((128UL << 20) / BlockSize - 1, BinaryPrimitives.ReadUInt64BigEndian(capacity.Data));
        var lastBlock = (uint)((128L << 20) / BlockSize - 1);
        Assert.True((await session.Write10Async(lastBlock, pattern, BlockSize)).IsGood);
        Assert.Equal(pattern, (await session.Read10Async(lastBlock, 1, BlockSize)).Data);
        Assert.Equal(pattern, (await session.Read10Async(100, 1, BlockSize)).Data);
    }

    [Fact]
    public async Task ThirtyTwoConcurrentSessions_AllDoVerifiedIo()
    {
        const int sessions = 32;
        const uint blocksEach = 2048;
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var device = await node.CreateDeviceAsync(new { name = "busy", type = "ram", sizeBytes = (long)sessions * blocksEach * BlockSize, sectorSize = BlockSize });
        var target = device.GetProperty("targetName").GetString()!;

        var loops = new List<VerifiedIoLoop>();
        try
        {
            for (var i = 0; i < sessions; i++)
                loops.Add(await VerifiedIoLoop.StartAsync(node, target, BlockSize, (uint)i * blocksEach, blocksEach));
            var listed = await node.GetJsonAsync("api/v1/sessions");
            Assert.Equal(sessions, listed.GetArrayLength());
            await Task.Delay(TimeSpan.FromSeconds(3));
            long total = 0;
            foreach (var loop in loops)
            {
                var verified = await loop.StopAsync();
                Assert.True(verified > 0, "a session made no progress");
                total += verified;
            }
            output.WriteLine($"{sessions} sessions verified {total} write+read pairs in 3 s");
        }
        finally
        {
            foreach (var loop in loops)
                await loop.DisposeAsync();
        }
    }

    [Fact]
    public async Task PersistentReservationWithAptpl_SurvivesRestart()
    {
        const ulong key = 0x7a4e_de00_0000_0001;
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var device = await node.CreateDeviceAsync(new { name = "pr", type = "image", sizeBytes = 64L << 20, provisioning = "thin", sectorSize = BlockSize });
        var target = device.GetProperty("targetName").GetString()!;

        await using (var session = await RawInitiator.ConnectAsync("127.0.0.1", node.IscsiPort))
        {
            await session.LoginAsync("iqn.2026-11.org.tandem.test:xen1", target);
            var register = new byte[24];
            BinaryPrimitives.WriteUInt64BigEndian(register.AsSpan(8), key);
            register[20] = 0x01; // APTPL
            var registered = await session.ExecuteAsync(new byte[] { 0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0 }, register);
            Assert.True(registered.IsGood, registered.ToString());
            var reserve = new byte[24];
            BinaryPrimitives.WriteUInt64BigEndian(reserve, key);
            var reserved = await session.ExecuteAsync(new byte[] { 0x5f, 0x01, 0x05, 0, 0, 0, 0, 0, 24, 0 }, reserve); // WRITE EXCLUSIVE - REGISTRANTS ONLY
            Assert.True(reserved.IsGood, reserved.ToString());
        }

        Assert.Equal(0, await node.StopAsync());
        await node.StartAsync();

        await using var after = await RawInitiator.ConnectAsync("127.0.0.1", node.IscsiPort);
        await after.LoginAsync("iqn.2026-11.org.tandem.test:xen1", target);
        ScsiResult keys;
        do
            keys = await after.ExecuteAsync(new byte[] { 0x5e, 0x00, 0, 0, 0, 0, 0, 0, 64, 0 }, dataInLength: 64);
        while (keys.Status == 0x02 && keys.SenseKey == 0x6); // a unit attention after restart is fine
        Assert.True(keys.IsGood, keys.ToString());
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(keys.Data.AsSpan(4)));
        Assert.Equal(key, BinaryPrimitives.ReadUInt64BigEndian(keys.Data.AsSpan(8)));

        var reservation = await after.ExecuteAsync(new byte[] { 0x5e, 0x01, 0, 0, 0, 0, 0, 0, 64, 0 }, dataInLength: 64);
        Assert.True(reservation.IsGood, reservation.ToString());
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(reservation.Data.AsSpan(4)));
        Assert.Equal(key, BinaryPrimitives.ReadUInt64BigEndian(reservation.Data.AsSpan(8)));
        Assert.Equal(0x05, reservation.Data[21] & 0x0f);
    }
}
