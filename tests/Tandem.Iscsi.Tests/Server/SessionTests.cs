using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

public class SessionTests
{
    [Fact]
    public async Task SameInitiatorPortReinstatesItsSession()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator first = await fixture.LoginAsync();
        await using TestInitiator second = await fixture.LoginAsync();
        Assert.True(await first.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        IscsiSessionInfo session = Assert.Single(fixture.Server.GetSessions());
        Assert.Equal(second.Tsih, session.Tsih);
        Assert.NotEqual(first.Tsih, second.Tsih);
        string[] events = fixture.Scsi.Events.ToArray();
        int lost = Array.FindIndex(events, e => e.StartsWith("lost "));
        int recreated = Array.FindLastIndex(events, e => e.StartsWith("created "));
        Assert.True(lost >= 0 && lost < recreated, string.Join(", ", events)); // NexusLost before the new NexusCreated
        Assert.Equal(0, (await second.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task DifferentIsidsAreDifferentSessions()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator first = await fixture.LoginAsync();
        await using TestInitiator second = await fixture.LoginAsync(isid: 0x400001370001);
        Assert.Equal(2, fixture.Server.GetSessions().Count);
        Assert.Equal(0, (await first.TestUnitReadyAsync()).Status);
        Assert.Equal(0, (await second.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task UnknownTsihIsRefused()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        var failure = await Assert.ThrowsAsync<LoginFailedException>(() => initiator.LoginAsync(ServerFixture.TargetName, tsih: 4242));
        Assert.Equal(0x020A, failure.Status); // session does not exist
    }

    [Fact]
    public async Task MaxSessionsIsEnforced()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync(new IscsiServerOptions { MaxSessions = 1 });
        await using TestInitiator first = await fixture.LoginAsync();
        await using TestInitiator second = await TestInitiator.ConnectAsync(fixture.EndPoint);
        var failure = await Assert.ThrowsAsync<LoginFailedException>(() => second.LoginAsync(ServerFixture.TargetName, isid: 0x400001370005));
        Assert.Equal(0x0302, failure.Status); // out of resources
    }

    [Fact]
    public async Task CloseSessionsDropsATargetsSessions()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        fixture.Server.CloseSessions(ServerFixture.TargetName);
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        await LoginAndIoTests.Eventually(() => fixture.Server.GetSessions().Count == 0);
    }

    [Fact]
    public async Task KeepAlivePingsAnIdleInitiator()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync(new IscsiServerOptions { NopInInterval = TimeSpan.FromMilliseconds(100), NopInTimeout = TimeSpan.FromSeconds(2) });
        await using TestInitiator initiator = await fixture.LoginAsync();
        await Task.Delay(400);
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status); // answers pings while it waits
        Assert.True(initiator.PingsAnswered >= 1);
        Assert.False(await initiator.IsClosedByTargetAsync(TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public async Task KeepAliveDropsASilentInitiator()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync(new IscsiServerOptions { NopInInterval = TimeSpan.FromMilliseconds(100), NopInTimeout = TimeSpan.FromMilliseconds(300) });
        await using TestInitiator initiator = await fixture.LoginAsync();
        initiator.AnswerPings = false;
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task CmdSnOutsideTheWindowIsIgnored()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        ReceivedPdu pong = await initiator.NopAsync([]);
        uint exp = pong.ExpCmdSN;
        foreach (uint bad in new[] { pong.MaxCmdSN + 1, exp - 1 })
        {
            initiator.CmdSN = bad;
            await initiator.SendAsync(initiator.CommandHeader(new byte[6], 0, false, false));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => initiator.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        }
        initiator.CmdSN = exp;
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task NopOutIsEchoed()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        ReceivedPdu pong = await initiator.NopAsync("ping!"u8.ToArray(), immediate: false);
        Assert.Equal(0x20, pong.Opcode);
        Assert.Equal(0xFFFFFFFFu, pong.Word20);
        Assert.Equal("ping!"u8.ToArray(), pong.Data);
    }
}
