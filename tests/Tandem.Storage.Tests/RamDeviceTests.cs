namespace Tandem.Storage.Tests;

public sealed class RamDeviceTests
{
    private const long MiB = 1 << 20;
    private const long GiB = 1L << 30;

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Writes_read_back_including_across_chunk_boundaries(int blockSize)
    {
        await using var device = new RamDevice(8 * MiB, blockSize);
        Assert.Equal(8 * MiB / blockSize, device.BlockCount);
        Assert.False(device.IsThinProvisioned);

        long perChunk = MiB / blockSize;
        (long Lba, int Blocks)[] ios = [(0, 1), (3, 5), (perChunk - 2, 4), (2 * perChunk - 1, (int)perChunk + 2), (device.BlockCount - 1, 1)];
        int seed = 0;
        foreach (var (lba, blocks) in ios)
        {
            byte[] data = TestData.Pattern(blocks * blockSize, ++seed);
            await device.WriteAsync(lba, data, WriteFlags.ForceUnitAccess);
        }
        seed = 0;
        foreach (var (lba, blocks) in ios)
        {
            var back = new byte[blocks * blockSize];
            await device.ReadAsync(lba, back);
            Assert.Equal(TestData.Pattern(back.Length, ++seed), back);
        }
        await device.FlushAsync();
    }

    [Fact]
    public async Task Never_written_blocks_read_zeros_and_cost_nothing()
    {
        await using var device = new RamDevice(64 * GiB, 4096);
        Assert.Equal(0, device.AllocatedBytes);
        var buffer = new byte[2 * MiB];
        Array.Fill(buffer, (byte)0x5A);
        await device.ReadAsync(12345, buffer);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, device.AllocatedBytes);
    }

    [Fact]
    public async Task Addresses_beyond_2_GiB_and_4_GiB()
    {
        await using var device = new RamDevice(10 * GiB, 512);
        long[] offsets = [2 * GiB - 512, 2 * GiB, 4 * GiB + 512, 10 * GiB - 4096];
        int seed = 0;
        foreach (long offset in offsets)
            await device.WriteAsync(offset / 512, TestData.Pattern(4096, ++seed));
        seed = 0;
        foreach (long offset in offsets)
        {
            var back = new byte[4096];
            await device.ReadAsync(offset / 512, back);
            byte[] expected = TestData.Pattern(4096, ++seed);
            // The write at 2 GiB overwrote all but the first sector of the one just before it.
            if (offset == 2 * GiB - 512)
                Assert.Equal(expected.AsSpan(0, 512).ToArray(), back.AsSpan(0, 512).ToArray());
            else
                Assert.Equal(expected, back);
        }
        // Only the touched chunks exist.
        Assert.InRange(device.AllocatedBytes, 3 * MiB, 5 * MiB);
    }

    [Fact]
    public async Task Unmap_zeroes_and_frees_whole_chunks()
    {
        await using var device = new RamDevice(8 * MiB, 512);
        byte[] data = TestData.Pattern(4 * (int)MiB, 1);
        await device.WriteAsync(0, data);
        Assert.Equal(4 * MiB, device.AllocatedBytes);

        // From 512 bytes into chunk 0 to 512 bytes into chunk 3: frees chunks 1 and 2.
        await device.UnmapAsync(1, (3 * MiB) / 512);
        Assert.Equal(2 * MiB, device.AllocatedBytes);

        var back = new byte[data.Length];
        await device.ReadAsync(0, back);
        Array.Clear(data, 512, 3 * (int)MiB);
        Assert.Equal(data, back);
        Assert.Equal(new LbaExtent(0, device.BlockCount, true), await device.GetLbaStatusAsync(0));
    }

    [Fact]
    public async Task Resize_grows_keeps_data_and_refuses_shrink()
    {
        await using var device = new RamDevice(3 * MiB, 4096);
        byte[] data = TestData.Pattern(4096, 3);
        await device.WriteAsync(device.BlockCount - 1, data);
        long old = device.BlockCount;

        await device.ResizeAsync(2 * GiB / 4096 + 5);
        Assert.Equal(2 * GiB / 4096 + 5, device.BlockCount);
        var back = new byte[4096];
        await device.ReadAsync(old - 1, back);
        Assert.Equal(data, back);
        await device.WriteAsync(device.BlockCount - 1, data);
        await device.ReadAsync(device.BlockCount - 1, back);
        Assert.Equal(data, back);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.ResizeAsync(old).AsTask());
        Assert.Equal(2 * GiB / 4096 + 5, device.BlockCount);
    }

    [Fact]
    public async Task Writes_racing_a_resize_are_not_lost()
    {
        await using var device = new RamDevice(GiB, 4096);
        long chunks = GiB / MiB;
        Task writer = Task.Run(async () =>
        {
            // One block in every chunk of the first GiB: each write allocates a fresh chunk.
            for (long c = 0; c < chunks; c++)
                await device.WriteAsync(c * (MiB / 4096), TestData.Pattern(4096, (int)c));
        });
        for (int i = 2; i <= 40; i++)
            await device.ResizeAsync(i * GiB / 4096);
        await writer;

        var back = new byte[4096];
        for (long c = 0; c < chunks; c++)
        {
            await device.ReadAsync(c * (MiB / 4096), back);
            Assert.Equal(TestData.Pattern(4096, (int)c), back);
        }
    }

    [Fact]
    public async Task Concurrent_writers_to_distinct_ranges_in_shared_chunks()
    {
        const int writers = 8, perWriter = 256;
        await using var device = new RamDevice(writers * perWriter * 512L, 512);
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < perWriter; i++)
            {
                long lba = (long)i * writers + w;
                await device.WriteAsync(lba, TestData.Pattern(512, (int)lba));
            }
        })));
        var back = new byte[512];
        for (long lba = 0; lba < device.BlockCount; lba++)
        {
            await device.ReadAsync(lba, back);
            Assert.Equal(TestData.Pattern(512, (int)lba), back);
        }
    }

    [Fact]
    public void Steady_state_io_allocates_nothing()
    {
        var device = new RamDevice(16 * MiB, 4096);
        var buffer = new byte[64 * 1024];
        for (int i = 0; i < 256; i++)
            Complete(device.WriteAsync(i, buffer)); // allocates the chunks touched below
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Complete(device.WriteAsync(i % 256, buffer, WriteFlags.ForceUnitAccess));
            Complete(device.ReadAsync(i % 256, buffer));
            Complete(device.FlushAsync());
            ValueTask<LbaExtent> status = device.GetLbaStatusAsync(i % 256);
            Assert.True(status.IsCompletedSuccessfully);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        static void Complete(ValueTask task)
        {
            Assert.True(task.IsCompletedSuccessfully);
            task.GetAwaiter().GetResult();
        }
    }

    [Fact]
    public async Task Bad_input_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new RamDevice(MiB, 1024));
        Assert.Throws<ArgumentException>(() => new RamDevice(0, 512));
        Assert.Throws<ArgumentException>(() => new RamDevice(-512, 512));
        Assert.Throws<ArgumentException>(() => new RamDevice(4096 + 512, 4096));

        await using var device = new RamDevice(MiB, 512);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.ReadAsync(device.BlockCount, new byte[512]).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.WriteAsync(-1, new byte[512]).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => device.WriteAsync(0, new byte[3]).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.UnmapAsync(1, device.BlockCount).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.GetLbaStatusAsync(-1).AsTask());
    }

    [Fact]
    public async Task Io_after_dispose_throws()
    {
        var device = new RamDevice(MiB, 512);
        await device.WriteAsync(0, new byte[512]);
        await device.DisposeAsync();
        await device.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => device.ReadAsync(0, new byte[512]).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => device.FlushAsync().AsTask());
    }
}
