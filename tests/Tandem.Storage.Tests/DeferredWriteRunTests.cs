using Tandem.Storage.Threading;

namespace Tandem.Storage.Tests;

/// <summary>
/// Plain writes an iSCSI receive loop runs itself are put off to the end of its batch
/// (<see cref="DeferredFlushes.Run"/>) and reach the image with their adjacent neighbours in one
/// pwritev; they complete only then, in the order they were made, and a read on the same thread
/// sees them first.
/// </summary>
public sealed class DeferredWriteRunTests : IDisposable
{
    private const int BlockSize = 4096;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private ImageFileDevice Create(string name) => ImageFileDevice.Create(_dir.File(name), 4 << 20, BlockSize, Provisioning.Thick);

    /// <summary>What another thread (another connection, the disk) sees.</summary>
    private static byte[] ReadElsewhere(IBlockDevice device, long lba, int blocks) =>
        Task.Run(async () =>
        {
            byte[] back = new byte[blocks * BlockSize];
            await device.ReadAsync(lba, back);
            return back;
        }).GetAwaiter().GetResult();

    [Fact]
    public async Task Writes_of_a_batch_complete_when_it_ends_and_land_where_they_were_aimed()
    {
        await using var device = Create("batch.img");
        var batch = new DeferredFlushes();
        byte[][] data = Enumerable.Range(0, 10).Select(i => TestData.Pattern(BlockSize, i + 1)).ToArray();
        long[] lbas = [0, 1, 2, 3, 50, 51, 7, 8, 9, 200]; // three runs and a lone write
        var writes = new ValueTask[data.Length];
        using (NoWait.Enter(batch))
        {
            for (int i = 0; i < data.Length; i++)
                writes[i] = device.WriteAsync(lbas[i], data[i], WriteFlags.MayDefer);
        }
        Assert.All(writes, w => Assert.False(w.IsCompleted, "a deferred write completes when its batch ends"));

        batch.Run();
        for (int i = 0; i < data.Length; i++)
        {
            Assert.True(writes[i].IsCompletedSuccessfully);
            await writes[i];
            Assert.Equal(data[i], ReadElsewhere(device, lbas[i], 1));
        }
    }

    [Fact]
    public async Task Overlapping_writes_of_one_batch_land_in_the_order_they_were_made()
    {
        await using var device = Create("order.img");
        var batch = new DeferredFlushes();
        byte[] first = TestData.Pattern(4 * BlockSize, 1), second = TestData.Pattern(2 * BlockSize, 2);
        ValueTask a, b;
        using (NoWait.Enter(batch))
        {
            a = device.WriteAsync(10, first, WriteFlags.MayDefer);
            b = device.WriteAsync(11, second, WriteFlags.MayDefer); // not adjacent: the first run is written out before it joins
        }
        batch.Run();
        await a;
        await b;
        byte[] expected = [.. first[..BlockSize], .. second, .. first[(3 * BlockSize)..]];
        Assert.Equal(expected, ReadElsewhere(device, 10, 4));
    }

    [Fact]
    public async Task A_read_on_the_same_thread_sees_the_writes_its_batch_put_off()
    {
        await using var device = Create("read.img");
        var batch = new DeferredFlushes();
        byte[] data = TestData.Pattern(2 * BlockSize, 3);
        var back = new byte[data.Length];
        ValueTask write, read;
        using (NoWait.Enter(batch))
        {
            write = device.WriteAsync(20, data, WriteFlags.MayDefer);
            read = device.ReadAsync(20, back);
        }
        await read;
        Assert.Equal(data, back);
        Assert.False(write.IsCompleted);
        batch.Run();
        await write;
    }

    [Fact]
    public async Task Writes_outside_a_batch_plain_writes_and_forced_unit_access_writes_are_not_put_off()
    {
        await using var device = Create("direct.img");
        Assert.True(device.WriteAsync(0, TestData.Pattern(BlockSize, 4), WriteFlags.MayDefer).IsCompletedSuccessfully);
        ValueTask plain, fua;
        using (NoWait.Enter(new DeferredFlushes()))
        {
            plain = device.WriteAsync(2, TestData.Pattern(BlockSize, 6));
            fua = device.WriteAsync(1, TestData.Pattern(BlockSize, 5), WriteFlags.ForceUnitAccess | WriteFlags.MayDefer);
        }
        Assert.True(plain.IsCompletedSuccessfully, "a write not marked MayDefer completes on the spot");
        await fua; // continues on a worker (fdatasync), never waits for a batch
        Assert.Equal(TestData.Pattern(BlockSize, 5), ReadElsewhere(device, 1, 1));
        Assert.Equal(TestData.Pattern(BlockSize, 6), ReadElsewhere(device, 2, 1));
    }

    [Fact]
    public async Task A_write_that_fails_when_its_batch_is_written_fails_each_of_its_commands()
    {
        var device = Create("fail.img");
        var batch = new DeferredFlushes();
        ValueTask a, b;
        using (NoWait.Enter(batch))
        {
            a = device.WriteAsync(0, TestData.Pattern(BlockSize, 6), WriteFlags.MayDefer);
            b = device.WriteAsync(1, TestData.Pattern(BlockSize, 7), WriteFlags.MayDefer);
        }
        await device.DisposeAsync(); // the image is gone before the batch ends
        batch.Run();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => a.AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => b.AsTask());
    }

    [Fact]
    public async Task Deferred_writes_allocate_nothing_once_warm()
    {
        await using var device = Create("alloc.img");
        var batch = new DeferredFlushes();
        byte[] data = new byte[BlockSize];
        var writes = new ValueTask[16];

        void Round()
        {
            using (NoWait.Enter(batch))
            {
                for (int i = 0; i < writes.Length; i++)
                    writes[i] = device.WriteAsync(i, data, WriteFlags.MayDefer);
            }
            batch.Run();
            foreach (ValueTask write in writes)
                write.GetAwaiter().GetResult();
        }

        for (int i = 0; i < 100; i++)
            Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
