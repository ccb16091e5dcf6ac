using System.Security.Cryptography;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>qemu-img (the block layer hypervisors use) copies a disk image in and out through iSCSI.</summary>
[Collection(InteropCollection.Name)]
public sealed class QemuImgTests(ITestOutputHelper output)
{
    private const long ImageSize = 1L << 30;

    [Fact]
    public async Task Convert_1GiB_In_Restart_Out_SameSha256()
    {
        using var data = new TempDirectory();
        var source = data.Combine("source.raw");
        var copy = data.Combine("copy.raw");
        var sourceHash = WriteRandomFile(source, ImageSize);

        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var device = await node.CreateDeviceAsync(new { name = "qemu", type = "image", sizeBytes = ImageSize, provisioning = "thick", sectorSize = 512 });
        var url = node.LunUrl(device.GetProperty("targetName").GetString()!);

        var write = await ExternalTool.RunAsync("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", source, url], TimeSpan.FromMinutes(10));
        Assert.True(write.ExitCode == 0, write.ToString());

        Assert.Equal(0, await node.StopAsync());
        await node.StartAsync();

        var read = await ExternalTool.RunAsync("qemu-img", ["convert", "-f", "raw", "-O", "raw", url, copy], TimeSpan.FromMinutes(10));
        Assert.True(read.ExitCode == 0, read.ToString());

        var copyHash = Sha256(copy);
        output.WriteLine($"source {sourceHash}\ncopy   {copyHash}");
        Assert.Equal(sourceHash, copyHash);
    }

    private static string WriteRandomFile(string path, long size)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = new byte[4 << 20];
        for (long done = 0; done < size; done += chunk.Length)
        {
            RandomNumberGenerator.Fill(chunk);
            file.Write(chunk);
            sha.AppendData(chunk);
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }
}
