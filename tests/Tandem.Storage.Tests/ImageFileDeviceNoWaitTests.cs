using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Tandem.Storage.Threading;

namespace Tandem.Storage.Tests;

/// <summary>
/// An image device called inside a <see cref="NoWait"/> scope (a connection's receive loop) serves
/// what is in the page cache on the spot and moves anything that would wait for the disk to a
/// worker, with the same results as outside the scope.
/// </summary>
public sealed partial class ImageFileDeviceNoWaitTests : IDisposable
{
    private const int BlockSize = 4096;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Cached_blocks_are_read_on_the_calling_thread()
    {
        await using var device = ImageFileDevice.Create(_dir.File("hit.img"), 1 << 20, BlockSize, Provisioning.Thick);
        byte[] data = TestData.Pattern(4 * BlockSize, 1);
        await device.WriteAsync(8, data); // the written pages are in the page cache now

        var back = new byte[data.Length];
        ValueTask read;
        using (NoWait.Enter())
            read = device.ReadAsync(8, back);
        Assert.True(read.IsCompletedSuccessfully, "a page-cache hit must complete synchronously");
        await read;
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Blocks_not_in_the_page_cache_are_still_read()
    {
        string path = _dir.File("miss.img");
        byte[] data = TestData.Pattern(64 * BlockSize, 2);
        await using (var writer = ImageFileDevice.Create(path, 4 << 20, BlockSize, Provisioning.Thick))
        {
            await writer.WriteAsync(100, data);
            await writer.FlushAsync(); // clean pages can be dropped from the cache
        }
        DropFromPageCache(path);

        await using var device = ImageFileDevice.Open(path, BlockSize, Provisioning.Thick);
        var back = new byte[data.Length];
        ValueTask read;
        using (NoWait.Enter())
            read = device.ReadAsync(100, back);
        await read;
        Assert.Equal(data, back);
        Assert.False(NoWait.IsActive);
    }

    [Fact]
    public async Task A_forced_unit_access_write_inside_the_scope_is_durable_and_reads_back()
    {
        string path = _dir.File("fua.img");
        byte[] data = TestData.Pattern(2 * BlockSize, 3);
        await using (var device = ImageFileDevice.Create(path, 1 << 20, BlockSize, Provisioning.Thin))
        {
            ValueTask write;
            using (NoWait.Enter())
                write = device.WriteAsync(5, data, WriteFlags.ForceUnitAccess);
            await write;
            var back = new byte[data.Length];
            await device.ReadAsync(5, back);
            Assert.Equal(data, back);
        }
        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(data, file.AsSpan(5 * BlockSize, data.Length).ToArray());
    }

    private static void DropFromPageCache(string path)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        int error = PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed);
        Assert.Equal(0, error);
    }

    private const int PosixFadvDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
