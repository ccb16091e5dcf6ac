using System.Diagnostics;
using System.Security.Cryptography;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// 4 KiB writes through one session, one at a time, each 68 KiB after the previous one (so in
/// another 64 KiB extent) within blocks [<paramref name="firstBlock"/>, <paramref name="endBlock"/>),
/// remembering what every acknowledged write put where.
/// </summary>
internal sealed class AcknowledgedWrites(RawInitiator session, long endBlock, long firstBlock = 0)
{
    private readonly long _first = firstBlock;
    public const int Blocks = 8;
    private const int BlockSize = LabReplicaSet.BlockSize;
    private const long ExtentBytes = 64 * 1024;
    private const int Stride = 136;
    private readonly Dictionary<uint, byte[]> _written = [];
    private readonly List<uint> _order = [];
    private long _next = -1;

    public int Count => _order.Count;

    /// <summary>Every acknowledged write: its LBA and the data that is there now.</summary>
    public IReadOnlyDictionary<uint, byte[]> Written => _written;

    public async Task WriteAsync(int count)
    {
        for (int i = 0; i < count; i++)
            await WriteOneAsync();
    }

    /// <summary>Writes one block; returns how long the initiator waited for it.</summary>
    public async Task<TimeSpan> WriteOneAsync()
    {
        var watch = Stopwatch.StartNew();
        var result = await TryWriteOneAsync();
        Assert.True(result.IsGood, $"write failed: {result}");
        return watch.Elapsed;
    }

    /// <summary>
    /// Writes one block, retrying while the node says NOT READY because it is deciding about a
    /// lost partner (ASYMMETRIC ACCESS STATE TRANSITION), as multipath would; returns how long it took.
    /// </summary>
    public async Task<TimeSpan> WriteOneThroughFailoverAsync(TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var result = await TryWriteOneAsync(advance: false);
            if (result.IsGood)
                return watch.Elapsed;
            Assert.True(result.SenseKey == 2 && watch.Elapsed < limit, $"write failed: {result} after {watch.Elapsed.TotalSeconds:0.0} s");
            await Task.Delay(100);
        }
    }

    /// <summary>Writes one block and remembers it if the target acknowledged it.</summary>
    public async Task<ScsiResult> TryWriteOneAsync(bool advance = true)
    {
        byte[] block = RandomNumberGenerator.GetBytes(Blocks * BlockSize);
        if (_next < 0)
            _next = _first;
        uint lba = (uint)_next;
        var result = await HaFailoverTests.RetryOnUnitAttentionAsync(() => session.Write10Async(lba, block, BlockSize));
        if (result.IsGood || advance)
        {
            _next += Stride;
            if (_next + Blocks > endBlock)
                _next = _first + (_next - _first) % Stride + 1;
        }
        if (result.IsGood)
        {
            _written[lba] = block;
            _order.Add(lba);
        }
        return result;
    }

    /// <summary>What a dirty bitmap marks for the writes from number <paramref name="first"/> on: their extents × 64 KiB.</summary>
    public long ExtentBytesSince(int first) => _order.Skip(first)
        .SelectMany(lba => new[] { lba * (long)BlockSize / ExtentBytes, ((lba + Blocks) * (long)BlockSize - 1) / ExtentBytes })
        .Distinct().LongCount() * ExtentBytes;

    public async Task ReadBackThroughAsync(RawInitiator other)
    {
        foreach (var (lba, block) in _written)
        {
            var read = await HaFailoverTests.RetryOnUnitAttentionAsync(() => other.Read10Async(lba, Blocks, BlockSize));
            Assert.True(read.IsGood && read.Data.AsSpan().SequenceEqual(block), $"block {lba} lost or torn: {read}");
        }
    }

    /// <summary>Every acknowledged write is in this image file (read directly, node stopped or not).</summary>
    public void AssertInImage(string imagePath)
    {
        using var image = File.OpenHandle(imagePath);
        byte[] buffer = new byte[Blocks * BlockSize];
        foreach (var (lba, block) in _written)
        {
            RandomAccess.Read(image, buffer, lba * (long)BlockSize);
            Assert.True(buffer.AsSpan().SequenceEqual(block), $"block {lba} is not in {imagePath}");
        }
    }
}
