using Tandem.Iscsi.Loopback;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Loopback;

/// <summary>
/// READ and WRITE run on the connection's receive loop, and the send loop is held while the receive
/// loop works through what one receive brought: the commands of one receive are answered in one
/// gather-send. Deterministic over the in-memory transport: a batch delivered at once is received
/// at once (it fits the receive buffer), and RAM-device commands complete synchronously.
/// </summary>
public sealed class ResponseBatchingTests
{
    private const int BlockSize = LoopbackDisk.BlockSize;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Commands_received_together_are_answered_in_one_send(bool write)
    {
        await using LoopbackDisk disk = await LoopbackDisk.StartAsync(16L * 1024 * 1024);
        LoopbackInitiator initiator = disk.Initiator;

        // 8 × (48-byte header + 4 KiB) = 33 KiB: well within one 64 KiB receive.
        CommandBatch batch = write
            ? initiator.PrepareWrite10(lba: 0, blocks: 1, BlockSize, count: 8)
            : initiator.PrepareRead10(lba: 0, blocks: 1, BlockSize, count: 8);
        for (int round = 0; round < 20; round++)
        {
            int before = initiator.TargetSends;
            initiator.Run(batch);
            Assert.Equal(1, initiator.TargetSends - before);
        }
        Assert.Equal(0, initiator.Failures);
    }
}
