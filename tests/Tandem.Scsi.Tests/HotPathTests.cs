using Tandem.Scsi.Tests.Support;
using Tandem.Scsi.Transport;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

/// <summary>The READ/WRITE path allocates nothing per command once warm (ARCHITECTURE: hot path habits).</summary>
public sealed class HotPathTests
{
    [Fact]
    public async Task Read_and_write_allocate_nothing_in_steady_state()
    {
        await using var h = new ScsiHarness(blocks: 4096);
        var write = new ScsiCommand { Nexus = A, IsWrite = true, DataOut = new byte[8 * 512], ExpectedTransferLength = 8 * 512 };
        write.SetCdb(Write10(16, 8));
        var read = new ScsiCommand { Nexus = A, IsRead = true, DataIn = new byte[8 * 512], ExpectedTransferLength = 8 * 512 };
        read.SetCdb(Read10(16, 8));

        for (int i = 0; i < 100; i++)
        {
            await h.Target.ExecuteAsync(write);
            await h.Target.ExecuteAsync(read);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            var w = h.Target.ExecuteAsync(write);
            var r = h.Target.ExecuteAsync(read);
            Assert.True(w.IsCompletedSuccessfully && r.IsCompletedSuccessfully);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(ScsiStatus.Good, write.Status);
        Assert.Equal(ScsiStatus.Good, read.Status);
        Assert.Equal(0, allocated);
    }
}
