using System.Security.Cryptography;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

public class LoginAndIoTests
{
    [Fact]
    public async Task LoginRunsCommandsAndLogsOut()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        Assert.Equal("1", initiator.NegotiatedKeys["TargetPortalGroupTag"]);
        Assert.Equal("262144", initiator.NegotiatedKeys["MaxRecvDataSegmentLength"]);

        ScsiResult tur = await initiator.TestUnitReadyAsync();
        Assert.Equal(0, tur.Status);

        ScsiResult inquiry = await initiator.ReadCommandAsync([0x12, 0, 0, 0, 36, 0], 36);
        Assert.Equal(0, inquiry.Status);
        Assert.Equal("TANDEM", System.Text.Encoding.ASCII.GetString(inquiry.Data, 8, 6));
        Assert.True(inquiry.StatusInDataIn); // status collapsed into the last Data-In

        IscsiSessionInfo session = Assert.Single(fixture.Server.GetSessions());
        Assert.Equal(ServerFixture.TargetName, session.TargetName);
        Assert.Equal(TestInitiator.DefaultInitiatorName, session.InitiatorName);
        Assert.Equal("400001370000", session.Isid);
        Assert.Equal(initiator.Tsih, session.Tsih);
        Assert.Single(session.Connections);
        Assert.Contains(fixture.Scsi.Events, e => e.StartsWith("created " + TestInitiator.DefaultInitiatorName));

        ReceivedPdu logout = await initiator.LogoutAsync();
        Assert.Equal(0x26, logout.Opcode);
        Assert.Equal(0, logout.Byte2);
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        await Eventually(() => fixture.Server.GetSessions().Count == 0 && fixture.Scsi.Events.Any(e => e.StartsWith("lost ")));
    }

    [Theory]
    [InlineData("Yes", "No", 4096, 1)] // all solicited, several bursts, one R2T at a time
    [InlineData("Yes", "No", 4096, 4)] // several R2Ts outstanding
    [InlineData("No", "Yes", 8192, 2)] // immediate + unsolicited Data-Out, then R2Ts
    [InlineData("Yes", "Yes", 65536, 1)] // immediate data, then R2T
    public async Task WritesAndReadsBackThroughEveryDataPath(string initialR2T, string immediateData, int burst, int outstanding)
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(new Dictionary<string, string>
        {
            ["InitialR2T"] = initialR2T,
            ["ImmediateData"] = immediateData,
            ["MaxBurstLength"] = burst.ToString(),
            ["FirstBurstLength"] = Math.Min(burst, 16384).ToString(),
            ["MaxOutstandingR2T"] = outstanding.ToString(),
            ["MaxRecvDataSegmentLength"] = "4096",
        });
        byte[] data = RandomNumberGenerator.GetBytes(256 * 1024);
        ScsiResult write = await initiator.WriteAsync(100, data);
        Assert.Equal(0, write.Status);
        Assert.Equal(0, write.ResidualFlags);
        if (initialR2T == "Yes" && immediateData == "No")
            Assert.Equal((data.Length + burst - 1) / burst, write.R2Ts);
        Assert.Equal(data, fixture.Scsi.Blocks(100, data.Length / 512).ToArray());

        ScsiResult read = await initiator.ReadAsync(100, (ushort)(data.Length / 512));
        Assert.Equal(0, read.Status);
        Assert.Equal(data, read.Data);
        Assert.All(read.DataInLengths, l => Assert.True(l <= 4096)); // the initiator's MaxRecvDataSegmentLength
        Assert.Equal(data.Length / 4096, read.DataInPdus);
        Assert.True(read.StatusInDataIn);
    }

    [Fact]
    public async Task DigestsProtectEveryPdu()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(new Dictionary<string, string> { ["ImmediateData"] = "No" }, digests: true);
        Assert.True(initiator.HeaderDigest);
        Assert.True(initiator.DataDigest);
        byte[] data = RandomNumberGenerator.GetBytes(70_000 / 512 * 512);
        Assert.Equal(0, (await initiator.WriteAsync(8, data)).Status);
        ScsiResult read = await initiator.ReadAsync(8, (ushort)(data.Length / 512));
        Assert.Equal(data, read.Data);
        ReceivedPdu pong = await initiator.NopAsync([1, 2, 3, 4, 5]); // padded data segment with digest
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, pong.Data);
        Assert.True(fixture.Server.GetSessions()[0].HeaderDigest);
    }

    [Fact]
    public async Task ReadResidualsFollowRfc7143()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();

        ScsiResult under = await initiator.ReadCommandAsync(TestInitiator.Read10(0, 1), 10000);
        Assert.Equal(0, under.Status);
        Assert.Equal(512, under.Data.Length);
        Assert.Equal(0x02, under.ResidualFlags); // U
        Assert.Equal(10000u - 512, under.Residual);

        ScsiResult over = await initiator.ReadCommandAsync(TestInitiator.Read10(0, 1), 200);
        Assert.Equal(200, over.Data.Length);
        Assert.Equal(0x04, over.ResidualFlags); // O
        Assert.Equal(312u, over.Residual);

        ScsiResult none = await initiator.ReadCommandAsync(TestInitiator.Read10(0, 1), 0);
        Assert.Equal(0, none.Status);
        Assert.Equal(0x04, none.ResidualFlags);
        Assert.Equal(512u, none.Residual);
    }

    [Fact]
    public async Task WriteResidualsWriteOnlyWhatTheyMay()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        byte[] a = Enumerable.Repeat((byte)'a', 1024).ToArray();
        Assert.Equal(0, (await initiator.WriteAsync(0, a)).Status);

        // EDTL of two blocks for a one-block WRITE: underflow, only one block written.
        byte[] b = Enumerable.Repeat((byte)'b', 1024).ToArray();
        ScsiResult under = await initiator.WriteCommandAsync(TestInitiator.Write10(0, 1), b);
        Assert.Equal(0, under.Status);
        Assert.Equal(0x02, under.ResidualFlags);
        Assert.Equal(512u, under.Residual);
        Assert.Equal((byte)'b', fixture.Scsi.Blocks(0, 1)[511]);
        Assert.Equal((byte)'a', fixture.Scsi.Blocks(1, 1)[0]);

        // EDTL of one block for a two-block WRITE: overflow.
        ScsiResult over = await initiator.WriteCommandAsync(TestInitiator.Write10(2, 2), b[..512]);
        Assert.Equal(0x04, over.ResidualFlags);
        Assert.Equal(512u, over.Residual);
    }

    [Fact]
    public async Task CheckConditionCarriesSenseWithLengthPrefix()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        ScsiResult result = await initiator.ReadCommandAsync([0xEE, 0, 0, 0, 0, 0], 0); // unknown opcode
        Assert.Equal(2, result.Status);
        Assert.Equal(18, result.Sense.Length);
        Assert.Equal(0x05, result.Sense[2]);
        Assert.Equal(0x20, result.Sense[12]);
    }

    [Fact]
    public async Task ExtendedCdbArrivesWhole()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        byte[] cdb = new byte[32];
        cdb[0] = 0x7F; // variable-length CDB: the fake does not support it and answers CHECK CONDITION
        byte[] h = initiator.CommandHeader(cdb, 0, read: false, write: false);
        byte[] ahs = new byte[20];
        ahs[1] = 17;
        ahs[2] = 1;
        ahs[4] = 0xAB;
        await initiator.SendAsync(h, default, ahs);
        ReceivedPdu rsp = await initiator.ReceiveAsync();
        Assert.Equal(0x21, rsp.Opcode);
        Assert.Equal(2, rsp.Byte3);
    }

    [Fact]
    public async Task ManyConcurrentCommandsAllComplete()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        var itts = new HashSet<uint>();
        for (int i = 0; i < 64; i++)
        {
            byte[] h = initiator.CommandHeader(TestInitiator.Read10((uint)i, 8), 4096, read: true, write: false);
            itts.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16)));
            await initiator.SendAsync(h);
        }
        uint lastMax = 0;
        while (itts.Count > 0)
        {
            ReceivedPdu pdu = await initiator.ReceiveAsync();
            if (pdu.Opcode == 0x25 && (pdu.Flags & 1) != 0)
            {
                Assert.True(itts.Remove(pdu.Itt));
                Assert.True(pdu.MaxCmdSN >= lastMax);
                lastMax = pdu.MaxCmdSN;
            }
        }
        // At rest the window is open by the full 128 commands again.
        ReceivedPdu pong = await initiator.NopAsync([]);
        Assert.Equal(127u, pong.MaxCmdSN - pong.ExpCmdSN);
    }

    internal static async Task Eventually(Func<bool> condition, int timeoutMs = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail("condition not met in time");
            await Task.Delay(20);
        }
    }
}
