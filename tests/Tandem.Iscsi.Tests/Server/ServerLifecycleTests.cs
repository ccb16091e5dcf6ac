using System.Net;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

public class ServerLifecycleTests
{
    [Fact]
    public async Task BindFailureNamesTheAddress()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using var second = new IscsiServer(fixture.Catalog, new IscsiServerOptions());
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync([fixture.EndPoint]));
        Assert.Contains(fixture.EndPoint.ToString(), error.Message);
    }

    [Fact]
    public async Task SeveralPortalsAreAllListenedOnAndReported()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using var server = new IscsiServer(fixture.Catalog, new IscsiServerOptions { PortalGroupTag = 9 });
        await server.StartAsync([new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0)]);
        Assert.Equal(2, server.BoundPortals.Count);
        Assert.All(server.BoundPortals, p => Assert.NotEqual(0, p.Port));
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(server.BoundPortals[1]);
        await initiator.LoginAsync(null);
        var addresses = (await initiator.TextAsync([new("SendTargets", ServerFixture.TargetName)])).KeyList()
            .Where(p => p.Key == "TargetAddress").Select(p => p.Value).ToList();
        Assert.Equal([$"127.0.0.1:{server.BoundPortals[0].Port},9", $"127.0.0.2:{server.BoundPortals[1].Port},9"], addresses);
    }

    [Fact]
    public async Task AnyPortalIsReportedWithTheConnectionsAddress()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using var server = new IscsiServer(fixture.Catalog, new IscsiServerOptions());
        await server.StartAsync([new IPEndPoint(IPAddress.Any, 0)]);
        int port = server.BoundPortals[0].Port;
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(new IPEndPoint(IPAddress.Parse("127.0.0.3"), port));
        await initiator.LoginAsync(null);
        var pairs = (await initiator.TextAsync([new("SendTargets", "All")])).KeyList();
        Assert.Contains(pairs, p => p.Key == "TargetAddress" && p.Value == $"127.0.0.3:{port},1");
    }

    [Fact]
    public async Task StopDropsConnectionsAndRefusesNewOnes()
    {
        ServerFixture fixture = await ServerFixture.StartAsync();
        IPEndPoint endPoint = fixture.EndPoint;
        await using TestInitiator initiator = await fixture.LoginAsync();
        await fixture.Server.StopAsync();
        Assert.True(await initiator.IsClosedByTargetAsync(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => TestInitiator.ConnectAsync(endPoint));
        Assert.Contains(fixture.Scsi.Events, e => e.StartsWith("lost "));
        await fixture.DisposeAsync();
    }

    [Fact]
    public async Task OrderedTaskWaitsForEarlierTasks()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        fixture.Scsi.WriteGate = new TaskCompletionSource();
        fixture.Scsi.ReachedGate = new TaskCompletionSource();
        uint write = await initiator.SendWriteAsync(TestInitiator.Write10(0, 1), new byte[512], 512);
        await fixture.Scsi.ReachedGate.Task.WaitAsync(TimeSpan.FromSeconds(5));

        byte[] ordered = initiator.CommandHeader(new byte[6], 0, false, false, attribute: 2); // ORDERED TEST UNIT READY
        await initiator.SendAsync(ordered);
        byte[] simple = initiator.CommandHeader(new byte[6], 0, false, false, attribute: 1); // SIMPLE after it
        await initiator.SendAsync(simple);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => initiator.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(1, fixture.Scsi.Executed); // only the write has started

        fixture.Scsi.WriteGate.SetResult();
        var order = new List<uint>();
        for (int i = 0; i < 3; i++)
            order.Add((await initiator.ReceiveAsync()).Itt);
        Assert.Equal(write, order[0]);
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ordered.AsSpan(16)), order[1]);
    }

    [Fact]
    public async Task HeadOfQueueAndImmediateCommandsBypassAnOrderedBarrier()
    {
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        await using TestInitiator initiator = await fixture.LoginAsync();
        fixture.Scsi.WriteGate = new TaskCompletionSource();
        fixture.Scsi.ReachedGate = new TaskCompletionSource();
        await initiator.SendWriteAsync(TestInitiator.Write10(0, 1), new byte[512], 512);
        await fixture.Scsi.ReachedGate.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await initiator.SendAsync(initiator.CommandHeader(new byte[6], 0, false, false, attribute: 2));
        byte[] head = initiator.CommandHeader(new byte[6], 0, false, false, attribute: 3);
        await initiator.SendAsync(head);
        ReceivedPdu first = await initiator.ReceiveAsync();
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(16)), first.Itt);
        fixture.Scsi.WriteGate.SetResult();
    }
}

public class RestartTests
{
    [Fact]
    public async Task RestartOnTheSamePortAfterConnections()
    {
        ServerFixture first = await ServerFixture.StartAsync();
        IPEndPoint endPoint = first.EndPoint;
        await using (TestInitiator initiator = await first.LoginAsync())
        {
            Assert.Equal(0, (await initiator.TestUnitReadyAsync()).Status);
            await initiator.LogoutAsync();
        }
        await first.DisposeAsync();
        await using var again = new IscsiServer(first.Catalog, new IscsiServerOptions());
        await again.StartAsync([endPoint]);
        await using TestInitiator second = await TestInitiator.ConnectAsync(endPoint);
        await second.LoginAsync(ServerFixture.TargetName);
    }
}
