using System.Buffers.Binary;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

/// <summary>
/// The connection's own threads over real sockets: a client that stops reading fills the socket,
/// and what the target could not send waits for room on the connection's send thread while the
/// target goes on receiving and serving everyone else.
/// </summary>
public class SocketTransportTests
{
    [Fact]
    public async Task A_client_that_stops_reading_gets_every_byte_later_and_holds_up_no_one()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        var pattern = new Random(5);
        pattern.NextBytes(fixture.Scsi.Blocks(0, (int)fixture.Scsi.BlockCount));

        await using TestInitiator slow = await fixture.LoginAsync(receiveBufferSize: 8 * 1024);
        await using TestInitiator bystander = await fixture.LoginAsync(isid: 0x400001370002);

        // 32 READs of 128 KiB (4 MiB) sent at once, and nothing read back yet.
        const ushort Blocks = 256;
        var tags = new List<(uint Itt, uint Lba)>();
        for (uint i = 0; i < 32; i++)
        {
            uint lba = i * Blocks % (uint)(fixture.Scsi.BlockCount - Blocks);
            byte[] header = slow.CommandHeader(TestInitiator.Read10(lba, Blocks), Blocks * RamScsiTarget.BlockSize, read: true, write: false);
            tags.Add((BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16)), lba));
            await slow.SendAsync(header);
        }

        // The target cannot send all that; it still serves another session, reads and writes.
        for (int round = 0; round < 5; round++)
        {
            byte[] data = new byte[4096];
            Random.Shared.NextBytes(data);
            Assert.Equal(0, (await bystander.WriteAsync(12000, data)).Status);
            ScsiResult read = await bystander.ReadAsync(12000, 8);
            Assert.Equal(data, read.Data);
            data.CopyTo(fixture.Scsi.Blocks(12000, 8)); // keep the expected pattern in step
        }

        // The slow client reads at last: every response is there, whole. Commands this large run on
        // workers, so they may complete, and be answered, in any order.
        Dictionary<uint, byte[]> received = tags.ToDictionary(t => t.Itt, _ => new byte[Blocks * RamScsiTarget.BlockSize]);
        var answered = new HashSet<uint>();
        while (answered.Count < tags.Count)
        {
            ReceivedPdu pdu = await slow.ReceiveAsync();
            Assert.True(received.ContainsKey(pdu.Itt), $"a PDU for unknown ITT {pdu.Itt:x8}");
            Assert.True(pdu.Opcode is 0x25 or 0x21, $"unexpected opcode {pdu.Opcode:x2}");
            if (pdu.Opcode == 0x25) // Data-In, with the status in the last one
                pdu.Data.CopyTo(received[pdu.Itt], (int)pdu.Word40);
            if (pdu.Opcode == 0x21 || (pdu.Flags & 0x01) != 0)
            {
                Assert.Equal(0, pdu.Byte3);
                Assert.True(answered.Add(pdu.Itt), $"ITT {pdu.Itt:x8} answered twice");
            }
        }
        foreach ((uint itt, uint lba) in tags)
            Assert.Equal(fixture.Scsi.Blocks(lba, Blocks).ToArray(), received[itt]);
        Assert.Equal(0, (await slow.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task A_client_that_goes_away_while_the_target_waits_to_send_ends_only_its_connection()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        TestInitiator slow = await fixture.LoginAsync(receiveBufferSize: 8 * 1024);
        for (uint i = 0; i < 32; i++)
            await slow.SendAsync(slow.CommandHeader(TestInitiator.Read10(i * 256, 256), 256 * RamScsiTarget.BlockSize, read: true, write: false));
        await Task.Delay(200);
        await slow.DisposeAsync();

        await using TestInitiator next = await fixture.LoginAsync(isid: 0x400001370003);
        Assert.Equal(0, (await next.TestUnitReadyAsync()).Status);
        await WaitUntilAsync(() => fixture.Server.GetSessions().Count == 1, "the abandoned session did not end");
    }

    [Fact]
    public async Task A_client_that_never_logs_in_is_dropped_at_the_login_timeout()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync(new IscsiServerOptions { LoginTimeout = TimeSpan.FromMilliseconds(500) });
        await using TestInitiator silent = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.True(await silent.IsClosedByTargetAsync(TimeSpan.FromSeconds(10)), "the target kept a silent connection");

        await using TestInitiator other = await fixture.LoginAsync();
        Assert.Equal(0, (await other.TestUnitReadyAsync()).Status);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string message)
    {
        for (int i = 0; i < 100 && !condition(); i++)
            await Task.Delay(50);
        Assert.True(condition(), message);
    }
}
