using System.Buffers.Binary;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

/// <summary>Malformed input gets a Reject or a dropped connection, and never harms another session.</summary>
public class BadInputTests
{
    private static async Task AssertStillServes(ServerFixture fixture, TestInitiator bystander)
    {
        Assert.Equal(0, (await bystander.TestUnitReadyAsync()).Status);
        await using TestInitiator fresh = await fixture.LoginAsync(isid: 0x400001379999);
        Assert.Equal(0, (await fresh.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task UnknownOpcodeIsRejectedWithItsHeader()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        byte[] h = TestInitiator.NewHeader(0x1C, 0x80, immediate: true);
        TestInitiator.Put32(h, 16, 0x1234);
        await initiator.SendAsync(h, new byte[10]);
        ReceivedPdu reject = await initiator.ReceiveAsync();
        Assert.Equal(0x3F, reject.Opcode);
        Assert.Equal(0x05, reject.Byte2); // command not supported
        Assert.Equal(48, reject.Data.Length);
        Assert.Equal(0x1C, reject.Data[0] & 0x3F);
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task DataOutForAnUnknownTaskIsRejected()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        await initiator.SendDataOutAsync(0xABCD, 0x77, new byte[512], 0, 512);
        ReceivedPdu reject = await initiator.ReceiveAsync();
        Assert.Equal(0x3F, reject.Opcode);
        Assert.Equal(0x09, reject.Byte2); // invalid PDU field
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task DataSequenceErrorsFailOnlyTheCommand()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(new Dictionary<string, string> { ["ImmediateData"] = "No", ["InitialR2T"] = "No" });
        byte[] h = initiator.CommandHeader(TestInitiator.Write10(0, 2), 1024, read: false, write: true, final: false);
        uint itt = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16));
        await initiator.SendAsync(h);
        await initiator.SendDataOutAsync(itt, 0xFFFFFFFF, new byte[1024], 0, 512, firstDataSN: 27);
        ReceivedPdu response = await initiator.ReceiveAsync();
        Assert.Equal(0x21, response.Opcode);
        Assert.Equal(2, response.Byte3);
        Assert.Equal(0x0B, response.Data[2 + 2]); // ABORTED COMMAND
        await initiator.SendDataOutAsync(itt, 0xFFFFFFFF, new byte[1024], 512, 512, firstDataSN: 1); // discarded quietly
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task LoginInFullFeaturePhaseIsRejected()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        await initiator.SendAsync(initiator.LoginHeader(0x87, TestInitiator.DefaultIsid, 0), TestInitiator.EncodeKeys([new("InitiatorName", "x")]));
        Assert.Equal(0x3F, (await initiator.ReceiveAsync()).Opcode);
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task OversizedDataSegmentDropsTheConnection()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator bystander = await fixture.LoginAsync(isid: 0x400001370001);
        await using TestInitiator initiator = await fixture.LoginAsync();
        byte[] h = TestInitiator.NewHeader(0x00, 0x80, immediate: true);
        h[5] = 0xFF; h[6] = 0xFF; h[7] = 0xFF; // 16 MiB claimed
        await initiator.SendRawAsync(h);
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        await AssertStillServes(fixture, bystander);
    }

    [Fact]
    public async Task TruncatedHeaderAndGarbageDoNotHurtOthers()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator bystander = await fixture.LoginAsync(isid: 0x400001370001);
        var random = new Random(1234);
        for (int i = 0; i < 20; i++)
        {
            await using TestInitiator attacker = await TestInitiator.ConnectAsync(fixture.EndPoint);
            byte[] junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            await attacker.SendRawAsync(junk);
        }
        await using (TestInitiator truncated = await TestInitiator.ConnectAsync(fixture.EndPoint))
            await truncated.SendRawAsync(new byte[20]); // closes mid-header
        await AssertStillServes(fixture, bystander);
    }

    [Fact]
    public async Task NonLoginPduBeforeLoginDropsTheConnection()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        await initiator.SendAsync(initiator.CommandHeader(new byte[6], 0, false, false));
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task GarbageLoginTextFailsTheLogin()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        await initiator.SendAsync(initiator.LoginHeader(0x87, TestInitiator.DefaultIsid, 0), "no equals sign\0\x01\x02=\0"u8.ToArray());
        ReceivedPdu response = await initiator.ReceiveAsync();
        Assert.Equal(0x23, response.Opcode);
        Assert.Equal(0x0200, response.LoginStatus);
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task BadHeaderDigestDropsTheConnection()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(digests: true);
        initiator.HeaderDigest = false; // send a header without its digest: the next 4 bytes do not match
        await initiator.SendAsync(initiator.CommandHeader(new byte[6], 0, false, false));
        await initiator.SendRawAsync(new byte[4]);
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task BadDataDigestIsRejectedAndDropped()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(digests: true);
        initiator.DataDigest = false;
        await initiator.SendAsync(TestInitiator.NewHeader(0x00, 0x80, immediate: true) is var h ? Tag(h) : h, new byte[8]);
        await initiator.SendRawAsync([1, 2, 3, 4]); // wrong data digest
        initiator.DataDigest = true;
        ReceivedPdu reject = await initiator.ReceiveAsync();
        Assert.Equal(0x3F, reject.Opcode);
        Assert.Equal(0x02, reject.Byte2); // data digest error
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));

        static byte[] Tag(byte[] h)
        {
            TestInitiator.Put32(h, 16, 0x55);
            return h;
        }
    }

    [Fact]
    public async Task ImmediateDataForAReadIsRejected()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        await initiator.SendAsync(initiator.CommandHeader(TestInitiator.Read10(0, 1), 512, read: true, write: false), new byte[512]);
        Assert.Equal(0x3F, (await initiator.ReceiveAsync()).Opcode);
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status); // its CmdSN was consumed
    }

    [Fact]
    public async Task HugeTransferIsRefusedWithSense()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        ScsiResult result = await initiator.ReadCommandAsync(TestInitiator.Read10(0, 1), int.MaxValue);
        Assert.Equal(2, result.Status);
        Assert.Equal(0x24, result.Sense[12]);
    }

    [Fact]
    public async Task DuplicateTaskTagIsRejected()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(new Dictionary<string, string> { ["InitialR2T"] = "Yes", ["ImmediateData"] = "No" });
        await initiator.SendAsync(initiator.CommandHeader(TestInitiator.Write10(0, 1), 512, false, true, itt: 0x99));
        Assert.Equal(0x31, (await initiator.ReceiveAsync()).Opcode); // R2T: the task waits for data
        await initiator.SendAsync(initiator.CommandHeader(new byte[6], 0, false, false, itt: 0x99));
        ReceivedPdu reject = await initiator.ReceiveAsync();
        Assert.Equal(0x3F, reject.Opcode);
        Assert.Equal(0x07, reject.Byte2); // task in progress
    }
}
