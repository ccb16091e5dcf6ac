using System.Net;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// libiscsi's conformance suite (every family, destructive tests allowed) against a real node
/// listening on two portals, given both as paths so the MultipathIO family runs too. The suite
/// is the judge of our SCSI and iSCSI semantics: zero failures is the bar.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ConformanceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("thick", 512)]
    [InlineData("thin", 512)]
    [InlineData("thick", 4096)]
    public async Task IscsiTestCu_AllFamilies_ZeroFailures(string provisioning, int sectorSize)
    {
        using var data = new TempDirectory();
        await using var node = await TandemNode.StartAsync(data.Combine("node"), [IPAddress.Parse("127.0.0.1"), IPAddress.Parse("127.0.0.2")]);
        var name = $"cu-{provisioning}-{sectorSize}";
        var device = await node.CreateDeviceAsync(new
        {
            name,
            type = "image",
            sizeBytes = 256L << 20,
            provisioning,
            sectorSize,
        });
        var target = device.GetProperty("targetName").GetString()!;

        var secondPath = $"iscsi://127.0.0.2:{node.IscsiPort}/{target}/0";
        var result = await ExternalTool.RunAsync("iscsi-test-cu", ["-d", "-n", node.LunUrl(target), secondPath], TimeSpan.FromMinutes(10));
        var summary = CUnitSummary.Parse(result.StdOut);
        output.WriteLine($"{provisioning} {sectorSize}-byte device: {summary}");
        if (summary.Failed > 0)
            output.WriteLine(result.StdOut);

        Assert.True(summary.Ran >= 600, $"only {summary.Ran} tests ran\n{result}");
        Assert.DoesNotContain("Multipath unavailable", result.StdOut);
        Assert.True(summary.Failed == 0, $"{summary}\n\nnode log:\n{node.Log}");
    }
}
