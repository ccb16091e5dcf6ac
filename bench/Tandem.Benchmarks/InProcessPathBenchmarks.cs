using BenchmarkDotNet.Attributes;
using Tandem.Iscsi;
using Tandem.Iscsi.Loopback;
using Tandem.Iscsi.Targets;
using Tandem.Scsi;
using Tandem.Scsi.LogicalUnits;
using Tandem.Storage;

namespace Tandem.Benchmarks;

/// <summary>
/// The whole target path without sockets: SCSI Command PDU in → receive loop → session → ScsiTarget →
/// ScsiLogicalUnit → RamDevice (4096-byte blocks) → send loop → Data-In/SCSI Response out. The session is
/// logged in through the real login code over an <see cref="InMemoryTransport"/>; each operation is one
/// 4 KiB command answered with its status (the QD32 variants send 32 commands in one write and report
/// per command). Allocated must read 0 B: the hot path allocates nothing in steady state.
/// </summary>
[MemoryDiagnoser]
public class InProcessPathBenchmarks
{
    private const string TargetName = "iqn.2026-11.org.tandem:bench-disk";
    private const int BlockSize = 4096;
    private const int QueueDepth = 32;

    private RamDevice _device = null!;
    private IscsiServer _server = null!;
    private LoopbackInitiator _initiator = null!;
    private CommandBatch _read = null!;
    private CommandBatch _write = null!;
    private CommandBatch _readBatch = null!;
    private CommandBatch _writeBatch = null!;

    [GlobalSetup]
    public void Setup()
    {
        _device = new RamDevice(64L * 1024 * 1024, BlockSize);
        var scsi = new ScsiTarget();
        byte[] naa = [0x60, 0x01, 0x40, 0x50, 0xBE, 0x4C, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 1];
        scsi.AddLogicalUnit(0, new ScsiLogicalUnit(_device, new LogicalUnitIdentity(naa, "BENCH00001"), new LogicalUnitOptions()));
        var catalog = new SingleTargetCatalog(new IscsiTargetDefinition { Name = TargetName, Scsi = scsi });
        // No keep-alive: an idle gap between iterations must not put a NOP-In into the measurement.
        _server = new IscsiServer(catalog, new IscsiServerOptions { NopInInterval = TimeSpan.Zero });
        _initiator = LoopbackInitiator.LoginAsync(_server, TargetName).GetAwaiter().GetResult();
        _read = _initiator.PrepareRead10(lba: 0, blocks: 1, BlockSize, count: 1);
        _write = _initiator.PrepareWrite10(lba: 0, blocks: 1, BlockSize, count: 1);
        _readBatch = _initiator.PrepareRead10(lba: 0, blocks: 1, BlockSize, QueueDepth);
        _writeBatch = _initiator.PrepareWrite10(lba: 0, blocks: 1, BlockSize, QueueDepth);
        // Make sure every command succeeds before anything is measured.
        _initiator.Run(_write);
        _initiator.Run(_read);
        _initiator.Run(_writeBatch);
        _initiator.Run(_readBatch);
        if (_initiator.Failures != 0)
            throw new InvalidOperationException($"{_initiator.Failures} commands failed during setup");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        int failures = _initiator.Failures;
        _initiator.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _device.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (failures != 0)
            throw new InvalidOperationException($"{failures} commands failed");
    }

    [Benchmark(Description = "READ(10) 4 KiB, QD1")]
    public void Read4K() => _initiator.Run(_read);

    [Benchmark(Description = "WRITE(10) 4 KiB immediate data, QD1")]
    public void Write4K() => _initiator.Run(_write);

    [Benchmark(Description = "READ(10) 4 KiB, QD32 (per command)", OperationsPerInvoke = QueueDepth)]
    public void Read4KQueueDepth32() => _initiator.Run(_readBatch);

    [Benchmark(Description = "WRITE(10) 4 KiB immediate data, QD32 (per command)", OperationsPerInvoke = QueueDepth)]
    public void Write4KQueueDepth32() => _initiator.Run(_writeBatch);
}
