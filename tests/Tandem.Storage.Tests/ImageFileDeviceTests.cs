namespace Tandem.Storage.Tests;

public sealed class ImageFileDeviceTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(512, Provisioning.Thick)]
    [InlineData(512, Provisioning.Thin)]
    [InlineData(4096, Provisioning.Thick)]
    [InlineData(4096, Provisioning.Thin)]
    public async Task Writes_read_back_at_various_offsets(int blockSize, Provisioning provisioning)
    {
        await using var device = ImageFileDevice.Create(_dir.File("a.img"), 8 * MiB, blockSize, provisioning);
        Assert.Equal(8 * MiB / blockSize, device.BlockCount);
        Assert.Equal(blockSize, device.BlockSize);
        Assert.Equal(provisioning == Provisioning.Thin, device.IsThinProvisioned);

        long last = device.BlockCount - 1;
        (long Lba, int Blocks)[] ios = [(0, 1), (1, 3), (7, 8), (100, 1), (last - 16, 16), (last, 1), (1000, 300)];
        int seed = 0;
        foreach (var (lba, blocks) in ios)
        {
            byte[] data = TestData.Pattern(blocks * blockSize, ++seed);
            await device.WriteAsync(lba, data);
            var back = new byte[data.Length];
            await device.ReadAsync(lba, back);
            Assert.Equal(data, back);
        }

        // The ranges are disjoint: re-read all of them, no write may have disturbed another.
        seed = 0;
        foreach (var (lba, blocks) in ios)
        {
            byte[] expected = TestData.Pattern(blocks * blockSize, ++seed);
            var back = new byte[expected.Length];
            await device.ReadAsync(lba, back);
            Assert.Equal(expected, back);
        }
    }

    [Theory]
    [InlineData(Provisioning.Thick)]
    [InlineData(Provisioning.Thin)]
    public async Task Never_written_blocks_read_zeros(Provisioning provisioning)
    {
        await using var device = ImageFileDevice.Create(_dir.File("z.img"), 4 * MiB, 512, provisioning);
        await device.WriteAsync(10, TestData.Pattern(512, 1));
        var buffer = new byte[64 * 1024];
        Array.Fill(buffer, (byte)0xAA);
        await device.ReadAsync(100, buffer);
        Assert.All(buffer, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Data_survives_close_and_open()
    {
        string path = _dir.File("p.img");
        byte[] data = TestData.Pattern(3 * 4096, 7);
        await using (var device = ImageFileDevice.Create(path, 2 * MiB, 4096, Provisioning.Thin))
            await device.WriteAsync(5, data, WriteFlags.ForceUnitAccess);

        await using var reopened = ImageFileDevice.Open(path, 4096, Provisioning.Thin);
        Assert.Equal(2 * MiB / 4096, reopened.BlockCount);
        Assert.Equal(Path.GetFullPath(path), reopened.ImagePath);
        var back = new byte[data.Length];
        await reopened.ReadAsync(5, back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Thick_image_is_allocated_up_front()
    {
        await using var device = ImageFileDevice.Create(_dir.File("thick.img"), 32 * MiB, 512, Provisioning.Thick);
        Assert.InRange(device.AllocatedBytes, 32 * MiB, 33 * MiB);
        Assert.Equal(32 * MiB, new FileInfo(device.ImagePath).Length);
    }

    [Fact]
    public async Task Thin_image_is_sparse_until_written()
    {
        await using var device = ImageFileDevice.Create(_dir.File("thin.img"), 64 * MiB, 512, Provisioning.Thin);
        Assert.InRange(device.AllocatedBytes, 0, 64 * 1024);
        Assert.Equal(64 * MiB, new FileInfo(device.ImagePath).Length);

        await device.WriteAsync(0, TestData.Pattern((int)MiB, 1));
        await device.FlushAsync();
        Assert.InRange(device.AllocatedBytes, MiB, 2 * MiB);
    }

    [Fact]
    public async Task Unmap_on_thin_punches_holes_and_reads_zeros()
    {
        await using var device = ImageFileDevice.Create(_dir.File("u.img"), 16 * MiB, 4096, Provisioning.Thin);
        await device.WriteAsync(0, TestData.Pattern(4 * (int)MiB, 3));
        await device.FlushAsync();
        long before = device.AllocatedBytes;
        Assert.InRange(before, 4 * MiB, 5 * MiB);

        // Unmap the middle 2 MiB (blocks 256..767).
        await device.UnmapAsync(256, 512);
        Assert.InRange(device.AllocatedBytes, 2 * MiB, before - 2 * MiB + 64 * 1024);

        var back = new byte[2 * MiB];
        await device.ReadAsync(256, back);
        Assert.All(back, b => Assert.Equal(0, b));

        // The blocks around it are intact.
        byte[] expected = TestData.Pattern(4 * (int)MiB, 3);
        var head = new byte[MiB];
        await device.ReadAsync(0, head);
        Assert.Equal(expected.AsSpan(0, (int)MiB).ToArray(), head);
        var tail = new byte[MiB];
        await device.ReadAsync(768, tail);
        Assert.Equal(expected.AsSpan(3 * (int)MiB, (int)MiB).ToArray(), tail);
    }

    [Fact]
    public async Task Unmap_on_thick_zeroes_but_keeps_space()
    {
        await using var device = ImageFileDevice.Create(_dir.File("tu.img"), 8 * MiB, 512, Provisioning.Thick);
        await device.WriteAsync(0, TestData.Pattern(2 * (int)MiB, 4));
        await device.UnmapAsync(1, 2048);
        Assert.InRange(device.AllocatedBytes, 8 * MiB, 9 * MiB);

        var back = new byte[2 * MiB];
        await device.ReadAsync(0, back);
        byte[] expected = TestData.Pattern(2 * (int)MiB, 4);
        Assert.Equal(expected.AsSpan(0, 512).ToArray(), back.AsSpan(0, 512).ToArray());
        Assert.All(back.AsSpan(512, 2048 * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(expected.AsSpan(512 + 2048 * 512).ToArray(), back.AsSpan(512 + 2048 * 512).ToArray());
    }

    [Fact]
    public async Task Unmap_on_thick_falls_back_to_writing_zeros_where_zero_range_is_unsupported()
    {
        // tmpfs allocates (fallocate mode 0) but has no FALLOC_FL_ZERO_RANGE.
        if (!Directory.Exists("/dev/shm"))
            return;
        using var shm = new TempDirectory("/dev/shm");
        await using var device = ImageFileDevice.Create(shm.File("t.img"), 4 * MiB, 512, Provisioning.Thick);
        byte[] data = TestData.Pattern(3 * (int)MiB, 6);
        await device.WriteAsync(0, data);
        await device.UnmapAsync(7, 4000);
        var back = new byte[data.Length];
        await device.ReadAsync(0, back);
        Array.Clear(data, 7 * 512, 4000 * 512);
        Assert.Equal(data, back);
        Assert.InRange(device.AllocatedBytes, 4 * MiB, 5 * MiB);
    }

    [Fact]
    public async Task Unmap_of_part_of_a_filesystem_block_zeroes_just_those_sectors()
    {
        await using var device = ImageFileDevice.Create(_dir.File("pu.img"), MiB, 512, Provisioning.Thin);
        byte[] data = TestData.Pattern(8 * 512, 5);
        await device.WriteAsync(0, data);
        await device.UnmapAsync(2, 3);
        var back = new byte[data.Length];
        await device.ReadAsync(0, back);
        Array.Clear(data, 2 * 512, 3 * 512);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Lba_status_of_thin_image_follows_writes_and_unmaps()
    {
        // 4 KiB blocks match the filesystem's allocation unit, so extents are exact.
        await using var device = ImageFileDevice.Create(_dir.File("s.img"), 4 * MiB, 4096, Provisioning.Thin);
        long blocks = device.BlockCount; // 1024

        Assert.Equal(new LbaExtent(0, blocks, false), await device.GetLbaStatusAsync(0));
        Assert.Equal(new LbaExtent(10, blocks - 10, false), await device.GetLbaStatusAsync(10));

        await device.WriteAsync(100, TestData.Pattern(50 * 4096, 1));
        await device.WriteAsync(blocks - 1, TestData.Pattern(4096, 2));

        Assert.Equal(new LbaExtent(0, 100, false), await device.GetLbaStatusAsync(0));
        Assert.Equal(new LbaExtent(100, 50, true), await device.GetLbaStatusAsync(100));
        Assert.Equal(new LbaExtent(120, 30, true), await device.GetLbaStatusAsync(120));
        Assert.Equal(new LbaExtent(150, blocks - 1 - 150, false), await device.GetLbaStatusAsync(150));
        Assert.Equal(new LbaExtent(blocks - 1, 1, true), await device.GetLbaStatusAsync(blocks - 1));

        await device.UnmapAsync(110, 10);
        Assert.Equal(new LbaExtent(100, 10, true), await device.GetLbaStatusAsync(100));
        Assert.Equal(new LbaExtent(110, 10, false), await device.GetLbaStatusAsync(110));
        Assert.Equal(new LbaExtent(120, 30, true), await device.GetLbaStatusAsync(120));
    }

    [Fact]
    public async Task Lba_status_with_512_byte_blocks_rounds_data_outward()
    {
        await using var device = ImageFileDevice.Create(_dir.File("s5.img"), MiB, 512, Provisioning.Thin);
        await device.WriteAsync(9, TestData.Pattern(512, 1)); // inside filesystem block 1 (LBA 8..15)

        LbaExtent first = await device.GetLbaStatusAsync(0);
        Assert.False(first.Mapped);
        Assert.Equal(0, first.Lba);
        Assert.InRange(first.BlockCount, 1, 9); // the hole ends at or before LBA 9

        LbaExtent mapped = await device.GetLbaStatusAsync(9);
        Assert.True(mapped.Mapped);
        Assert.Equal(9, mapped.Lba);
        Assert.True(mapped.BlockCount >= 1);

        LbaExtent last = await device.GetLbaStatusAsync(device.BlockCount - 1);
        Assert.Equal(new LbaExtent(device.BlockCount - 1, 1, false), last);
    }

    [Fact]
    public async Task Thick_image_reports_everything_mapped()
    {
        await using var device = ImageFileDevice.Create(_dir.File("tm.img"), 4 * MiB, 512, Provisioning.Thick);
        Assert.Equal(new LbaExtent(0, device.BlockCount, true), await device.GetLbaStatusAsync(0));
        Assert.Equal(new LbaExtent(17, device.BlockCount - 17, true), await device.GetLbaStatusAsync(17));
    }

    [Theory]
    [InlineData(Provisioning.Thick)]
    [InlineData(Provisioning.Thin)]
    public async Task Resize_grows_and_keeps_data(Provisioning provisioning)
    {
        string path = _dir.File("r.img");
        await using var device = ImageFileDevice.Create(path, 4 * MiB, 512, provisioning);
        byte[] data = TestData.Pattern(4096, 9);
        await device.WriteAsync(device.BlockCount - 8, data);

        long oldCount = device.BlockCount;
        await device.ResizeAsync(oldCount * 2);
        Assert.Equal(oldCount * 2, device.BlockCount);
        Assert.Equal(8 * MiB, new FileInfo(path).Length);
        if (provisioning == Provisioning.Thick)
            Assert.InRange(device.AllocatedBytes, 8 * MiB, 9 * MiB);
        else
            Assert.InRange(device.AllocatedBytes, 0, MiB);

        var back = new byte[data.Length];
        await device.ReadAsync(oldCount - 8, back);
        Assert.Equal(data, back);

        var tail = new byte[4096];
        await device.ReadAsync(device.BlockCount - 8, tail);
        Assert.All(tail, b => Assert.Equal(0, b));
        await device.WriteAsync(device.BlockCount - 8, data);
        await device.ReadAsync(device.BlockCount - 8, tail);
        Assert.Equal(data, tail);

        // Same size is a no-op.
        await device.ResizeAsync(device.BlockCount);
        Assert.Equal(oldCount * 2, device.BlockCount);
    }

    [Fact]
    public async Task Resize_refuses_to_shrink()
    {
        await using var device = ImageFileDevice.Create(_dir.File("rs.img"), 4 * MiB, 512, Provisioning.Thin);
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.ResizeAsync(device.BlockCount - 1).AsTask());
        Assert.Contains("shrink", e.Message);
        Assert.Equal(4 * MiB / 512, device.BlockCount);
        Assert.Equal(4 * MiB, new FileInfo(device.ImagePath).Length);
    }

    [Fact]
    public async Task Resize_during_io_is_safe()
    {
        await using var device = ImageFileDevice.Create(_dir.File("ri.img"), MiB, 512, Provisioning.Thin);
        byte[] data = TestData.Pattern(4096, 1);
        using var stop = new CancellationTokenSource();
        Task writer = Task.Run(async () =>
        {
            long lba = 0;
            while (!stop.IsCancellationRequested)
            {
                await device.WriteAsync(lba, data);
                lba = (lba + 8) % (MiB / 512 - 8);
            }
        });
        for (int i = 2; i <= 10; i++)
            await device.ResizeAsync(i * MiB / 512);
        stop.Cancel();
        await writer;
        Assert.Equal(10 * MiB / 512, device.BlockCount);
        Assert.Equal(10 * MiB, new FileInfo(device.ImagePath).Length);
    }

    [Fact]
    public async Task Fua_and_flush_complete()
    {
        await using var device = ImageFileDevice.Create(_dir.File("f.img"), MiB, 4096, Provisioning.Thick);
        byte[] data = TestData.Pattern(8192, 2);
        await device.WriteAsync(3, data, WriteFlags.ForceUnitAccess);
        await device.FlushAsync();
        var back = new byte[8192];
        await device.ReadAsync(3, back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Concurrent_writers_to_distinct_ranges()
    {
        const int writers = 8, perWriter = 64, blocksPerIo = 4;
        await using var device = ImageFileDevice.Create(_dir.File("c.img"), writers * perWriter * blocksPerIo * 512L, 512, Provisioning.Thin);
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < perWriter; i++)
            {
                long lba = ((long)i * writers + w) * blocksPerIo; // interleaved ranges
                await device.WriteAsync(lba, TestData.Pattern(blocksPerIo * 512, (int)lba), i % 5 == 0 ? WriteFlags.ForceUnitAccess : WriteFlags.None);
            }
        })));

        var back = new byte[blocksPerIo * 512];
        for (long lba = 0; lba < device.BlockCount; lba += blocksPerIo)
        {
            await device.ReadAsync(lba, back);
            Assert.Equal(TestData.Pattern(back.Length, (int)lba), back);
        }
    }

    [Fact]
    public async Task Out_of_range_io_is_refused()
    {
        await using var device = ImageFileDevice.Create(_dir.File("o.img"), MiB, 512, Provisioning.Thin);
        long count = device.BlockCount;
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.ReadAsync(count, new byte[512]).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.WriteAsync(count - 1, new byte[1024]).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.WriteAsync(-1, new byte[512]).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => device.WriteAsync(0, new byte[100]).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.UnmapAsync(count - 1, 2).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.GetLbaStatusAsync(count).AsTask());
        Assert.Equal(MiB, new FileInfo(device.ImagePath).Length);
    }

    [Fact]
    public void Create_refuses_bad_input()
    {
        string existing = _dir.File("exists.img");
        File.WriteAllBytes(existing, new byte[4096]);

        var e1 = Assert.Throws<IOException>(() => ImageFileDevice.Create(existing, MiB, 512, Provisioning.Thin));
        Assert.Contains("already exists", e1.Message);
        Assert.Equal(4096, new FileInfo(existing).Length); // untouched

        var e2 = Assert.Throws<DirectoryNotFoundException>(() => ImageFileDevice.Create(_dir.File("nope/x.img"), MiB, 512, Provisioning.Thin));
        Assert.Contains("does not exist", e2.Message);

        Assert.Throws<ArgumentException>(() => ImageFileDevice.Create(_dir.File("b1.img"), MiB, 1024, Provisioning.Thin));
        Assert.Throws<ArgumentException>(() => ImageFileDevice.Create(_dir.File("b2.img"), 0, 512, Provisioning.Thin));
        Assert.Throws<ArgumentException>(() => ImageFileDevice.Create(_dir.File("b3.img"), -4096, 512, Provisioning.Thin));
        Assert.Throws<ArgumentException>(() => ImageFileDevice.Create(_dir.File("b4.img"), 4096 + 512, 4096, Provisioning.Thin));
        Assert.Throws<ArgumentException>(() => ImageFileDevice.Create(_dir.File("b5.img"), MiB, 512, (Provisioning)7));
        Assert.Throws<ArgumentException>(() => ImageFileDevice.Create("", MiB, 512, Provisioning.Thin));

        Assert.Equal(["exists.img"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Create_that_cannot_get_the_space_leaves_no_file()
    {
        // An exabyte cannot be allocated anywhere: fallocate fails (EFBIG/ENOSPC) and the file goes away.
        string path = _dir.File("huge.img");
        Assert.ThrowsAny<IOException>(() => ImageFileDevice.Create(path, 1L << 60, 4096, Provisioning.Thick));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Open_refuses_bad_input()
    {
        string odd = _dir.File("odd.img");
        File.WriteAllBytes(odd, new byte[4096 + 512]);
        var e = Assert.Throws<InvalidDataException>(() => ImageFileDevice.Open(odd, 4096, Provisioning.Thin));
        Assert.Contains("multiple", e.Message);

        string empty = _dir.File("empty.img");
        File.WriteAllBytes(empty, []);
        Assert.Throws<InvalidDataException>(() => ImageFileDevice.Open(empty, 512, Provisioning.Thin));

        Assert.Throws<FileNotFoundException>(() => ImageFileDevice.Open(_dir.File("missing.img"), 512, Provisioning.Thin));
        Assert.Throws<ArgumentException>(() => ImageFileDevice.Open(odd, 520, Provisioning.Thin));

        // An image already open is locked against a second opener.
        await using var device = ImageFileDevice.Create(_dir.File("locked.img"), MiB, 512, Provisioning.Thin);
        Assert.Throws<IOException>(() => ImageFileDevice.Open(device.ImagePath, 512, Provisioning.Thin));
    }

    [Fact]
    public async Task Io_after_dispose_throws()
    {
        var device = ImageFileDevice.Create(_dir.File("d.img"), MiB, 512, Provisioning.Thin);
        await device.DisposeAsync();
        await device.DisposeAsync(); // idempotent
        await Assert.ThrowsAsync<ObjectDisposedException>(() => device.WriteAsync(0, new byte[512]).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => device.FlushAsync().AsTask());
    }

    [Fact]
    public async Task New_image_is_private_to_the_service_user()
    {
        await using var device = ImageFileDevice.Create(_dir.File("m.img"), MiB, 512, Provisioning.Thin);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(device.ImagePath));
    }
}
