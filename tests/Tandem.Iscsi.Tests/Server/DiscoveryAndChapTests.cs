using Tandem.Iscsi.Targets;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

public class DiscoveryAndChapTests
{
    [Fact]
    public async Task SendTargetsListsVisibleTargetsWithPortals()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        await initiator.LoginAsync(null, new Dictionary<string, string> { ["MaxBurstLength"] = "262144" });
        Assert.Equal("Irrelevant", initiator.NegotiatedKeys["MaxBurstLength"]);
        ReceivedPdu response = await initiator.TextAsync([new("SendTargets", "All")]);
        Assert.Equal(0x24, response.Opcode);
        var pairs = response.KeyList();
        var names = pairs.Where(p => p.Key == "TargetName").Select(p => p.Value).ToList();
        Assert.Contains(ServerFixture.TargetName, names);
        Assert.Contains(ServerFixture.ChapTargetName, names);
        Assert.DoesNotContain(ServerFixture.HiddenTargetName, names); // not on its allow-list
        Assert.Contains(pairs, p => p.Key == "TargetAddress" && p.Value == $"127.0.0.1:{fixture.EndPoint.Port},1");
        Assert.Empty(fixture.Server.GetSessions()); // discovery sessions are not listed

        // SCSI is not allowed in a discovery session.
        await initiator.SendAsync(initiator.CommandHeader(new byte[6], 0, false, false));
        Assert.Equal(0x3F, (await initiator.ReceiveAsync()).Opcode);
        Assert.Equal(0, (await initiator.LogoutAsync()).Byte2);
    }

    [Fact]
    public async Task LongSendTargetsAnswersContinue()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync(configure: catalog => { });
        var many = Enumerable.Range(0, 200).Select(i => new IscsiTargetDefinition { Name = $"iqn.2026-11.org.tandem:many-{i:d3}", Scsi = fixture.Scsi }).ToArray();
        await using var server = new IscsiServer(new TestCatalog(many), new IscsiServerOptions());
        await server.StartAsync([new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)]);
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(server.BoundPortals[0]);
        await initiator.LoginAsync(null, new Dictionary<string, string> { ["MaxRecvDataSegmentLength"] = "1024" });
        var all = new List<byte>();
        ReceivedPdu part = await initiator.TextAsync([new("SendTargets", "All")]);
        all.AddRange(part.Data);
        int parts = 1;
        while ((part.Flags & 0x80) == 0)
        {
            Assert.True(part.Data.Length <= 1024);
            byte[] h = TestInitiator.NewHeader(0x04, 0x80, immediate: true);
            TestInitiator.Put32(h, 16, part.Itt);
            TestInitiator.Put32(h, 20, part.Word20);
            TestInitiator.Put32(h, 24, initiator.CmdSN);
            await initiator.SendAsync(h);
            part = await initiator.ReceiveAsync();
            all.AddRange(part.Data);
            parts++;
        }
        Assert.True(parts > 5);
        Assert.Equal(200, new ReceivedPdu(new byte[48], all.ToArray()).KeyList().Count(p => p.Key == "TargetName"));
    }

    [Fact]
    public async Task DiscoveryChapIsRequiredWhenConfigured()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync(configure: c => c.DiscoveryChap = new ChapCredentials("disc", "discovery-secret"));
        await using TestInitiator anonymous = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.Equal(0x0201, (await Assert.ThrowsAsync<LoginFailedException>(() => anonymous.LoginAsync(null))).Status);
        await using TestInitiator authenticated = await TestInitiator.ConnectAsync(fixture.EndPoint);
        await authenticated.LoginAsync(null, chap: ("disc", "discovery-secret"));
        Assert.Equal(0x24, (await authenticated.TextAsync([new("SendTargets", "All")])).Opcode);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("7")]
    public async Task MutualChapLogin(string algorithm)
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        await initiator.LoginAsync(ServerFixture.ChapTargetName, chap: ("alice", "alice-secret-12"), mutualChap: ("target", "target-secret-34"), chapAlgorithms: algorithm);
        Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
    }

    [Fact]
    public async Task ChapFailuresAreAuthenticationFailures()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator wrong = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.Equal(0x0201, (await Assert.ThrowsAsync<LoginFailedException>(() =>
            wrong.LoginAsync(ServerFixture.ChapTargetName, chap: ("alice", "not-the-secret"), mutualChap: ("target", "target-secret-34")))).Status);
        await using TestInitiator oneWay = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.Equal(0x0201, (await Assert.ThrowsAsync<LoginFailedException>(() =>
            oneWay.LoginAsync(ServerFixture.ChapTargetName, chap: ("alice", "alice-secret-12")))).Status); // target requires mutual
        await using TestInitiator none = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.Equal(0x0201, (await Assert.ThrowsAsync<LoginFailedException>(() => none.LoginAsync(ServerFixture.ChapTargetName))).Status);
    }

    [Fact]
    public async Task HiddenTargetRefusesLogin()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.Equal(0x0202, (await Assert.ThrowsAsync<LoginFailedException>(() => initiator.LoginAsync(ServerFixture.HiddenTargetName))).Status);
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task UnknownTargetIsNotFound()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(fixture.EndPoint);
        Assert.Equal(0x0203, (await Assert.ThrowsAsync<LoginFailedException>(() => initiator.LoginAsync("iqn.2026-11.org.tandem:nobody"))).Status);
    }

    [Fact]
    public async Task SendTargetsInANormalSessionAnswersItsOwnTarget()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        ReceivedPdu response = await initiator.TextAsync([new("SendTargets", ""), new("X-unknown", "1"), new("MaxBurstLength", "4096")]);
        var keys = response.Keys();
        Assert.Equal(ServerFixture.TargetName, keys["TargetName"]);
        Assert.Equal("NotUnderstood", keys["X-unknown"]);
        Assert.Equal("Reject", keys["MaxBurstLength"]); // login-only key
    }
}
