using System.Buffers.Binary;
using System.Net;
using Tandem.Iscsi.Targets;
using Tandem.Iscsi.Tests.Support;
using Tandem.Scsi;
using Tandem.Scsi.LogicalUnits;
using Tandem.Storage;
using Tandem.Storage.Native;
using Xunit.Abstractions;

namespace Tandem.Iscsi.Tests.Loopback;

/// <summary>
/// The hot path over a real TCP connection (receive thread, gather-send) allocates nothing per
/// command once warm. The client logs in normally, then drives its socket with
/// <see cref="BlockingSocket"/> and pre-built PDUs, so it allocates nothing itself.
/// </summary>
[Collection(nameof(AllocationGuard))]
public sealed class TcpHotPathAllocationTests(ITestOutputHelper output)
{
    private const int BlockSize = 4096;
    private const int QueueDepth = 32;
    private const int Rounds = 100;
    private const string TargetName = "iqn.2026-11.org.tandem:tcp-allocation";

    [OptimizedBuildTheory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)] // writes put off to the batch's end and gathered (DeferredWriteRun)
    public async Task Reads_and_writes_over_tcp_allocate_nothing_per_command(bool write, bool imageFile)
    {
        using var folder = new Tandem.Testing.TempDirectory();
        await using IBlockDevice device = imageFile
            ? ImageFileDevice.Create(folder.File("hot.img"), 64L * 1024 * 1024, BlockSize, Provisioning.Thick)
            : new RamDevice(64L * 1024 * 1024, BlockSize);
        // Data where the reads go: unwritten extents of a fresh thick image are not served from the
        // page cache (RWF_NOWAIT misses), so their reads would take the worker path.
        await device.WriteAsync(0, new byte[2 * 1024 * 1024]);
        var scsi = new ScsiTarget();
        scsi.AddLogicalUnit(0, new ScsiLogicalUnit(device, new LogicalUnitIdentity(new byte[16] { 0x60, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5 }, "TCPALLOC01"), new LogicalUnitOptions()));
        await using var server = new IscsiServer(new TestCatalog(new IscsiTargetDefinition { Name = TargetName, Scsi = scsi }),
            new IscsiServerOptions { NopInInterval = TimeSpan.Zero });
        await server.StartAsync([new IPEndPoint(IPAddress.Loopback, 0)]);
        await using TestInitiator initiator = await TestInitiator.ConnectAsync(server.BoundPortals[0]);
        await initiator.LoginAsync(TargetName, new Dictionary<string, string> { ["ImmediateData"] = "Yes", ["InitialR2T"] = "No" });

        // QueueDepth commands in one buffer: 4 KiB READs (answered by Data-In carrying the status),
        // or 4 KiB WRITEs with all their data immediate (answered by a SCSI Response).
        int commandLength = 48 + (write ? BlockSize : 0);
        int responseLength = 48 + (write ? 0 : BlockSize);
        byte[] commands = new byte[QueueDepth * commandLength];
        for (int i = 0; i < QueueDepth; i++)
        {
            byte[] cdb = write ? TestInitiator.Write10((uint)i * 8, 8) : TestInitiator.Read10((uint)i * 8, 8);
            byte[] header = initiator.CommandHeader(cdb, BlockSize, read: !write, write: write);
            if (write)
            {
                header[5] = (byte)(BlockSize >> 16); // data segment length (bytes 5-7)
                header[6] = (byte)(BlockSize >> 8);
                header[7] = (byte)(BlockSize & 0xFF);
            }
            header.CopyTo(commands, i * commandLength);
        }
        byte[] responses = new byte[QueueDepth * responseLength];
        uint cmdSN = initiator.CmdSN;
        uint itt = 0x10000;
        int badResponses = 0; // counted, not asserted, inside the measured loop: assertions allocate

        void RunRound()
        {
            for (int i = 0; i < QueueDepth; i++)
            {
                Span<byte> header = commands.AsSpan(i * commandLength, 48);
                BinaryPrimitives.WriteUInt32BigEndian(header[16..], itt++);
                BinaryPrimitives.WriteUInt32BigEndian(header[24..], cmdSN++);
            }
            BlockingSocket.SendAll(initiator.Socket, commands);
            int received = 0;
            while (received < responses.Length)
            {
                int n = BlockingSocket.Receive(initiator.Socket, responses.AsSpan(received));
                if (n == 0)
                    throw new EndOfStreamException("the target closed the connection");
                received += n;
            }
            for (int i = 0; i < QueueDepth; i++)
            {
                ReadOnlySpan<byte> response = responses.AsSpan(i * responseLength, 48);
                if ((response[0] & 0x3F) != (write ? 0x21 : 0x25) || response[3] != 0) // status GOOD
                    badResponses++;
            }
        }

        for (int i = 0; i < Rounds; i++)
            RunRound(); // warm up: pools, tiered JIT

        var report = new List<string>();
        double best = double.MaxValue;
        for (int attempt = 0; attempt < 5 && best > 0; attempt++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < Rounds; i++)
                RunRound();
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            double perCommand = allocated / (double)(Rounds * QueueDepth);
            report.Add($"attempt {attempt}: {allocated} B for {Rounds * QueueDepth} commands ({perCommand:F2} B/command)");
            best = Math.Min(best, perCommand);
        }
        foreach (string line in report)
            output.WriteLine(line);
        Assert.Equal(0, badResponses);
        Assert.True(best < 1, $"{(write ? "writes" : "reads")} over TCP allocate {best:F2} B per command in steady state");
    }
}
