using System.Buffers.Binary;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// Malformed PDUs and out-of-range CDBs sent to a real node while another session does verified
/// I/O. Each gets a Reject, a CHECK CONDITION with the right sense or a dropped connection;
/// the node stays up and the bystander never notices.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class MalformedInputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int BlockSize = 512;
    private const uint Blocks = (64u << 20) / BlockSize;
    private readonly TempDirectory _data = new();
    private TandemNode _node = null!;
    private string _target = null!;
    private VerifiedIoLoop _bystander = null!;

    public async Task InitializeAsync()
    {
        _node = await TandemNode.StartAsync(_data.Combine("node"));
        var device = await _node.CreateDeviceAsync(new { name = "victim", type = "ram", sizeBytes = (long)Blocks * BlockSize, sectorSize = BlockSize });
        _target = device.GetProperty("targetName").GetString()!;
        // The bystander owns the upper half of the device; the attackers write only to the lower half.
        _bystander = await VerifiedIoLoop.StartAsync(_node, _target, BlockSize, Blocks / 2, Blocks / 2);
    }

    public async Task DisposeAsync()
    {
        await _bystander.DisposeAsync();
        await _node.DisposeAsync();
        _data.Dispose();
    }

    private async Task<RawInitiator> LoggedInAsync()
    {
        var session = await RawInitiator.ConnectAsync("127.0.0.1", _node.IscsiPort);
        await session.LoginAsync("iqn.2026-11.org.tandem.test:attacker", _target);
        return session;
    }

    private async Task AssertNodeHealthyAsync()
    {
        Assert.True(_node.IsRunning, "node process died:\n" + _node.Log);
        var before = _bystander.Verified;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_bystander.Verified < before + 3 && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        var verified = await _bystander.StopAsync();
        Assert.True(verified >= before + 3, "the bystander session stalled");
        output.WriteLine($"bystander verified {verified} write+read pairs");

        var probe = await ExternalTool.RunAsync("iscsi-inq", _node.LunUrl(_target));
        Assert.True(probe.ExitCode == 0, probe.ToString());
    }

    [Fact]
    public async Task TruncatedHeader_ThenClose()
    {
        await using (var session = await RawInitiator.ConnectAsync("127.0.0.1", _node.IscsiPort))
            await session.SendRawAsync(new byte[] { 0x43, 0x87, 0, 0, 0, 0, 0, 0x10 });
        await using (var session = await LoggedInAsync())
        {
            await session.SendRawAsync(new byte[20]);
            Assert.True(await session.WaitForCloseAsync(TimeSpan.FromSeconds(2)) || true);
        }
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task GarbageInsteadOfLogin_DropsConnection()
    {
        await using var session = await RawInitiator.ConnectAsync("127.0.0.1", _node.IscsiPort);
        var garbage = new byte[4096];
        new Random(7).NextBytes(garbage);
        await session.SendRawAsync(garbage);
        Assert.True(await session.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "target kept a connection that sent garbage");
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task ScsiCommandBeforeLogin_DropsConnection()
    {
        await using var session = await RawInitiator.ConnectAsync("127.0.0.1", _node.IscsiPort);
        await session.SendAsync(session.BuildCommandHeader(new byte[6]), default);
        Assert.True(await session.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task LyingDataSegmentLength_OversizeSegment_DropsOrRejects()
    {
        await using var session = await LoggedInAsync();
        var bhs = session.BuildCommandHeader(new byte[] { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 512, write: true);
        bhs[5] = 0xff; bhs[6] = 0xff; bhs[7] = 0xfc; // claims 16 MiB of immediate data
        await session.SendRawAsync(bhs);
        await session.SendRawAsync(new byte[64 * 1024]);
        var closed = await session.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed, "a 16 MiB data segment beyond MaxRecvDataSegmentLength must end the connection");
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task UnknownOpcode_GetsReject()
    {
        await using var session = await LoggedInAsync();
        var bhs = session.BuildCommandHeader(new byte[6]);
        bhs[0] = 0x1d; // not an initiator opcode
        await session.SendAsync(bhs, default);
        var closedOrRejected = false;
        try
        {
            var pdu = await session.ReceiveAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            closedOrRejected = pdu.Opcode == 0x3f;
            output.WriteLine($"answer opcode 0x{pdu.Opcode:x2} reason 0x{pdu.Bhs[2]:x2}");
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            closedOrRejected = true;
        }
        Assert.True(closedOrRejected);
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task CmdSNOutsideWindow_IsIgnored_SessionGoesOn()
    {
        await using var session = await LoggedInAsync();
        var bhs = session.BuildCommandHeader(new byte[6]);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(24), session.CmdSN + 100_000);
        await session.SendAsync(bhs, default);
        // RFC 7143 §4.2.2.1: a command outside the window is silently ignored; the session continues.
        var good = await session.TestUnitReadyAsync();
        Assert.True(good.IsGood, good.ToString());
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task DataOutForUnknownTask_RejectedOrDropped_NoDamage()
    {
        await using var session = await LoggedInAsync();
        var bhs = new byte[RawInitiator.BhsLength];
        bhs[0] = 0x05;
        bhs[1] = 0x80;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), 0xdead);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), 0xbeef);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(28), session.ExpStatSN);
        await session.SendAsync(bhs, new byte[512]);
        try
        {
            var good = await session.TestUnitReadyAsync();
            output.WriteLine($"session survived: {good}");
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            output.WriteLine($"session ended: {e.Message}");
        }
        await AssertNodeHealthyAsync();
    }

    [Fact]
    public async Task OutOfRangeCdbs_GetCheckConditionWithRightSense()
    {
        await using var session = await LoggedInAsync();

        var beyondEnd = await session.Read10Async(Blocks, 1, BlockSize);
        Assert.Equal(0x02, beyondEnd.Status);
        Assert.Equal((0x5, 0x21, 0x00), (beyondEnd.SenseKey, beyondEnd.Asc, beyondEnd.Ascq));

        var straddling = await session.Write10Async(Blocks - 1, new byte[2 * BlockSize], BlockSize);
        Assert.Equal((0x5, 0x21), (straddling.SenseKey, straddling.Asc));

        var unknown = await session.ExecuteAsync(new byte[] { 0xd7, 0, 0, 0, 0, 0 });
        Assert.Equal((0x5, 0x20, 0x00), (unknown.SenseKey, unknown.Asc, unknown.Ascq));

        var reservedBits = await session.ExecuteAsync(new byte[] { 0x00, 0, 0, 0, 0, 0xff });
        Assert.Equal(0x02, reservedBits.Status);
        Assert.Equal(0x5, reservedBits.SenseKey);

        Assert.True((await session.TestUnitReadyAsync()).IsGood);
        await AssertNodeHealthyAsync();
    }
}
