using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

public class TaskManagementTests
{
    private static async Task<ReceivedPdu> TmfResponseAsync(TestInitiator initiator, uint itt)
    {
        while (true)
        {
            ReceivedPdu pdu = await initiator.ReceiveAsync();
            Assert.NotEqual(0x21, pdu.Opcode); // an aborted task never answers
            if (pdu.Opcode == 0x22 && pdu.Itt == itt)
                return pdu;
        }
    }

    [Fact]
    public async Task AbortTaskStopsARunningWriteWithoutAResponse()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        fixture.Scsi.WriteGate = new TaskCompletionSource();
        fixture.Scsi.ReachedGate = new TaskCompletionSource();
        uint itt = await initiator.SendWriteAsync(TestInitiator.Write10(0, 8), new byte[4096], 4096);
        await fixture.Scsi.ReachedGate.Task.WaitAsync(TimeSpan.FromSeconds(5));

        uint tmf = await initiator.SendTaskManagementAsync(1, 0, itt);
        ReceivedPdu response = await TmfResponseAsync(initiator, tmf);
        Assert.Equal(0, response.Byte2); // function complete

        // The task is gone: aborting again says so, and the session still works.
        tmf = await initiator.SendTaskManagementAsync(1, 0, itt);
        Assert.Equal(1, (await TmfResponseAsync(initiator, tmf)).Byte2); // task does not exist
        fixture.Scsi.WriteGate = null;
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task AbortTaskWaitingForDataOut()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync(new Dictionary<string, string> { ["InitialR2T"] = "Yes", ["ImmediateData"] = "No" });
        byte[] h = initiator.CommandHeader(TestInitiator.Write10(0, 8), 4096, read: false, write: true);
        uint itt = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16));
        await initiator.SendAsync(h);
        ReceivedPdu r2t = await initiator.ReceiveAsync();
        Assert.Equal(0x31, r2t.Opcode);

        uint tmf = await initiator.SendTaskManagementAsync(1, 0, itt);
        Assert.Equal(0, (await TmfResponseAsync(initiator, tmf)).Byte2);

        // Data-Out still in flight for the aborted task is discarded quietly.
        await initiator.SendDataOutAsync(itt, r2t.Word20, new byte[4096], 0, 4096);
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
        Assert.Equal(0, fixture.Scsi.Executed - 1); // only the TEST UNIT READY ran
    }

    [Fact]
    public async Task LogicalUnitResetAbortsAndNotifiesTheTarget()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator first = await fixture.LoginAsync();
        await using TestInitiator second = await fixture.LoginAsync(isid: 0x400001370099);
        fixture.Scsi.WriteGate = new TaskCompletionSource();
        fixture.Scsi.ReachedGate = new TaskCompletionSource();
        await second.SendWriteAsync(TestInitiator.Write10(0, 1), new byte[512], 512);
        await fixture.Scsi.ReachedGate.Task.WaitAsync(TimeSpan.FromSeconds(5));

        uint tmf = await first.SendTaskManagementAsync(5, 0, 0xFFFFFFFF);
        Assert.Equal(0, (await TmfResponseAsync(first, tmf)).Byte2);
        Assert.Contains("lu-reset 0", fixture.Scsi.Events);
        fixture.Scsi.WriteGate = null;
        Assert.Equal(0, (await second.TestUnitReadyAsync()).Status); // the aborted write never answered

        tmf = await first.SendTaskManagementAsync(5, 9, 0xFFFFFFFF);
        Assert.Equal(2, (await TmfResponseAsync(first, tmf)).Byte2); // LUN does not exist
    }

    [Fact]
    public async Task ClearTaskSetTellsTheOtherInitiator()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator first = await fixture.LoginAsync();
        await using TestInitiator second = await fixture.LoginAsync(isid: 0x400001370042);
        fixture.Scsi.WriteGate = new TaskCompletionSource();
        fixture.Scsi.ReachedGate = new TaskCompletionSource();
        await second.SendWriteAsync(TestInitiator.Write10(0, 1), new byte[512], 512);
        await fixture.Scsi.ReachedGate.Task.WaitAsync(TimeSpan.FromSeconds(5));
        uint tmf = await first.SendTaskManagementAsync(4, 0, 0xFFFFFFFF);
        Assert.Equal(0, (await TmfResponseAsync(first, tmf)).Byte2);
        Assert.Contains(fixture.Scsi.Events, e => e.StartsWith("cleared ") && e.Contains("0x400001370042"));
    }

    [Theory]
    [InlineData(3, 5)] // CLEAR ACA: function not supported
    [InlineData(8, 4)] // TASK REASSIGN: allegiance reassignment not supported
    [InlineData(2, 0)] // ABORT TASK SET with nothing to abort
    [InlineData(6, 0)] // TARGET WARM RESET
    [InlineData(14, 5)] // unknown function
    public async Task OtherFunctionsAnswer(byte function, byte expected)
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        uint tmf = await initiator.SendTaskManagementAsync(function, 0, 0xFFFFFFFF);
        Assert.Equal(expected, (await TmfResponseAsync(initiator, tmf)).Byte2);
        if (function == 6)
            Assert.Contains("target-reset", fixture.Scsi.Events);
    }

    [Fact]
    public async Task TargetColdResetAnswersThenDropsEveryConnection()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator first = await fixture.LoginAsync();
        await using TestInitiator second = await fixture.LoginAsync(isid: 0x400001370077);
        uint tmf = await first.SendTaskManagementAsync(7, 0, 0xFFFFFFFF);
        Assert.Equal(0, (await TmfResponseAsync(first, tmf)).Byte2);
        Assert.True(await first.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        Assert.True(await second.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("target-reset", fixture.Scsi.Events);
        await LoginAndIoTests.Eventually(() => fixture.Server.GetSessions().Count == 0);
    }
}
