using Tandem.Iscsi.Loopback;
using Tandem.Iscsi.Tests.Support;
using Xunit.Abstractions;

namespace Tandem.Iscsi.Tests.Loopback;

/// <summary>Runs alone: the allocation guard counts bytes allocated by every thread of the process.</summary>
[CollectionDefinition(nameof(AllocationGuard), DisableParallelization = true)]
public sealed class AllocationGuard;

/// <summary>
/// The iSCSI hot path (SCSI Command PDU in → task → SCSI target over a RAM device → Data-In or SCSI
/// Response out) allocates nothing per command once warm (ARCHITECTURE: hot path habits). Runs the real
/// connection, session and send loop over the in-memory transport; allocation counts are deterministic,
/// so this is a plain test with no timing in it.
/// </summary>
[Collection(nameof(AllocationGuard))]
public sealed class HotPathAllocationTests(ITestOutputHelper output)
{
    private const int BlockSize = LoopbackDisk.BlockSize;
    private const int Commands = 2000;

    [OptimizedBuildTheory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 32)]
    public async Task Read_and_write_allocate_nothing_per_command(bool headerDigest, int queueDepth)
    {
        await using LoopbackDisk disk = await LoopbackDisk.StartAsync(64L * 1024 * 1024, headerDigest);
        LoopbackInitiator initiator = disk.Initiator;

        CommandBatch write = initiator.PrepareWrite10(lba: 0, blocks: 1, BlockSize, queueDepth);
        CommandBatch read = initiator.PrepareRead10(lba: 0, blocks: 1, BlockSize, queueDepth);
        int rounds = Commands / queueDepth;

        // Warm up: fill the task slot, buffer and async state machine pools.
        for (int i = 0; i < rounds; i++)
        {
            initiator.Run(write);
            initiator.Run(read);
        }

        // Take the best of a few runs so a stray background allocation (runtime, test host) cannot fail it;
        // an allocation on the path itself shows up in every run. Output is written afterwards because
        // the test host allocates on another thread to forward it.
        var report = new List<string>();
        double best = double.MaxValue;
        for (int attempt = 0; attempt < 5 && best > 0; attempt++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < rounds; i++)
            {
                initiator.Run(write);
                initiator.Run(read);
            }
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            double perCommand = allocated / (2.0 * rounds * queueDepth);
            report.Add($"attempt {attempt}: {allocated} B for {2 * rounds * queueDepth} commands ({perCommand:F2} B/command)");
            best = Math.Min(best, perCommand);
        }
        foreach (string line in report)
            output.WriteLine(line);

        Assert.Equal(0, initiator.Failures);
        Assert.True(best < 1, $"the iSCSI read/write path allocates {best:F2} B per command in steady state");
    }
}
