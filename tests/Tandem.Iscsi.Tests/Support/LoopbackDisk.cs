using Tandem.Iscsi.Loopback;
using Tandem.Iscsi.Targets;
using Tandem.Scsi;
using Tandem.Scsi.LogicalUnits;
using Tandem.Storage;

namespace Tandem.Iscsi.Tests.Support;

/// <summary>
/// The real SCSI target over a RAM device (4096-byte blocks), served by a real iSCSI server and
/// reached by a <see cref="LoopbackInitiator"/> over the in-memory transport: the whole hot path
/// in process, with no sockets.
/// </summary>
internal sealed class LoopbackDisk : IAsyncDisposable
{
    public const int BlockSize = 4096;
    private const string TargetName = "iqn.2026-11.org.tandem:loopback-disk";

    private readonly RamDevice _device;
    private readonly IscsiServer _server;

    private LoopbackDisk(RamDevice device, IscsiServer server, LoopbackInitiator initiator)
    {
        _device = device;
        _server = server;
        Initiator = initiator;
    }

    public LoopbackInitiator Initiator { get; }

    public static async Task<LoopbackDisk> StartAsync(long sizeBytes, bool headerDigest = false)
    {
        var device = new RamDevice(sizeBytes, BlockSize);
        var scsi = new ScsiTarget();
        scsi.AddLogicalUnit(0, new ScsiLogicalUnit(device, new LogicalUnitIdentity(new byte[16] { 0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 }, "LOOPBACK01"), new LogicalUnitOptions()));
        var catalog = new TestCatalog(new IscsiTargetDefinition { Name = TargetName, Scsi = scsi });
        var server = new IscsiServer(catalog, new IscsiServerOptions { NopInInterval = TimeSpan.Zero });
        try
        {
            return new LoopbackDisk(device, server, await LoopbackInitiator.LoginAsync(server, TargetName, headerDigest));
        }
        catch
        {
            await server.DisposeAsync();
            await device.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Initiator.Dispose();
        await _server.DisposeAsync();
        await _device.DisposeAsync();
    }
}
