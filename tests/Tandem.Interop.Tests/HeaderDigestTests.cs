using System.Security.Cryptography;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// qemu (through libiscsi) negotiating CRC32C header digests: data copied in and out verifies,
/// and the negotiation is seen to pick CRC32C (libiscsi logs the target's login answer).
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class HeaderDigestTests(ITestOutputHelper output)
{
    private const long Size = 32L << 20;

    [Fact]
    public async Task Crc32cHeaderDigest_CopyInAndOut_Verifies()
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"));
        var device = await node.CreateDeviceAsync(new { name = "digest", type = "image", sizeBytes = Size, provisioning = "thin", sectorSize = 512 });
        var target = device.GetProperty("targetName").GetString()!;
        var imageOptions = $"driver=iscsi,transport=tcp,portal={node.Portal},target={target},lun=0,header-digest=crc32c";
        var debug = new Dictionary<string, string> { ["LIBISCSI_DEBUG"] = "10" };

        var source = data.Combine("source.raw");
        var copy = data.Combine("copy.raw");
        File.WriteAllBytes(source, RandomNumberGenerator.GetBytes((int)Size));

        var write = await ExternalTool.RunAsync("qemu-img", ["convert", "-n", "-f", "raw", "--target-image-opts", source, imageOptions], TimeSpan.FromMinutes(2), debug);
        Assert.True(write.ExitCode == 0, write.ToString());
        Assert.Contains("HeaderDigest=CRC32C", write.Output);

        var read = await ExternalTool.RunAsync("qemu-img", ["convert", "--image-opts", imageOptions, "-O", "raw", copy], TimeSpan.FromMinutes(2), debug);
        Assert.True(read.ExitCode == 0, read.ToString());
        Assert.Contains("HeaderDigest=CRC32C", read.Output);

        Assert.Equal(SHA256.HashData(File.ReadAllBytes(source)), SHA256.HashData(File.ReadAllBytes(copy)));
        output.WriteLine("32 MiB copied in and out with CRC32C header digests; SHA-256 identical");
    }
}
