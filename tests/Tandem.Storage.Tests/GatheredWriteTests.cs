namespace Tandem.Storage.Tests;

/// <summary>
/// <see cref="IBlockDevice.WriteGatheredAsync"/>: pieces land back to back, as the separate writes
/// would have; bad pieces or ranges are refused before anything is written.
/// </summary>
public sealed class GatheredWriteTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private IBlockDevice Create(string kind, int blockSize) => kind == "image"
        ? ImageFileDevice.Create(_dir.File("g.img"), 8 * MiB, blockSize, Provisioning.Thin)
        : new RamDevice(8 * MiB, blockSize);

    [Theory]
    [InlineData("image", 512)]
    [InlineData("image", 4096)]
    [InlineData("ram", 512)]
    public async Task Pieces_land_back_to_back_from_the_first_block(string kind, int blockSize)
    {
        await using var device = Create(kind, blockSize);
        // Slices of one array, as a partner's receive buffer holds them, of different lengths.
        byte[] buffer = TestData.Pattern(64 * blockSize, 7);
        int[] blocks = [1, 8, 3, 16, 1, 2];
        var pieces = new List<ReadOnlyMemory<byte>>();
        int at = 0;
        foreach (int n in blocks)
        {
            pieces.Add(buffer.AsMemory(at, n * blockSize));
            at += (n + 1) * blockSize; // skip a block between slices: the pieces are not contiguous in memory
        }
        long lba = 100;
        await device.WriteGatheredAsync(lba, pieces);

        byte[] expected = pieces.SelectMany(p => p.ToArray()).ToArray();
        byte[] back = new byte[expected.Length + 2 * blockSize];
        await device.ReadAsync(lba - 1, back);
        Assert.All(back[..blockSize], b => Assert.Equal(0, b));
        Assert.Equal(expected, back[blockSize..^blockSize]);
        Assert.All(back[^blockSize..], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Sixty_four_pieces_of_a_megabyte_in_all_go_out_whole()
    {
        await using var device = ImageFileDevice.Create(_dir.File("big.img"), 8 * MiB, 4096, Provisioning.Thick);
        var pieces = Enumerable.Range(0, 64).Select(i => (ReadOnlyMemory<byte>)TestData.Pattern(16384, i)).ToList();
        await device.WriteGatheredAsync(0, pieces);
        byte[] back = new byte[MiB];
        await device.ReadAsync(0, back);
        Assert.Equal(pieces.SelectMany(p => p.ToArray()).ToArray(), back);
    }

    [Fact]
    public async Task A_piece_that_is_not_whole_blocks_is_refused_and_nothing_is_written()
    {
        await using var device = ImageFileDevice.Create(_dir.File("bad.img"), 8 * MiB, 512, Provisioning.Thin);
        List<ReadOnlyMemory<byte>> pieces = [TestData.Pattern(512, 1), TestData.Pattern(700, 2)];
        await Assert.ThrowsAsync<ArgumentException>(() => device.WriteGatheredAsync(0, pieces).AsTask());
        byte[] back = new byte[2048];
        await device.ReadAsync(0, back);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Pieces_running_past_the_end_are_refused_and_nothing_is_written()
    {
        await using var device = ImageFileDevice.Create(_dir.File("end.img"), 8 * MiB, 512, Provisioning.Thin);
        List<ReadOnlyMemory<byte>> pieces = [TestData.Pattern(512, 1), TestData.Pattern(1024, 2)];
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.WriteGatheredAsync(device.BlockCount - 2, pieces).AsTask());
        byte[] back = new byte[1024];
        await device.ReadAsync(device.BlockCount - 2, back);
        Assert.All(back, b => Assert.Equal(0, b));
        Assert.Equal(8 * MiB, new FileInfo(_dir.File("end.img")).Length);
    }

    [Fact]
    public async Task More_pieces_than_one_call_takes_are_refused()
    {
        await using var device = ImageFileDevice.Create(_dir.File("many.img"), 8 * MiB, 512, Provisioning.Thin);
        var pieces = Enumerable.Range(0, 65).Select(_ => (ReadOnlyMemory<byte>)new byte[512]).ToList();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.WriteGatheredAsync(0, pieces).AsTask());
    }
}
