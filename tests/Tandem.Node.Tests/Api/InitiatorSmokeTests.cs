using System.Diagnostics;
using Tandem.Node.Api.Models;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Api;

/// <summary>
/// The node's wiring seen by a real initiator (libiscsi's iscsi-ls) on the ephemeral portal.
/// Real-client coverage lives in Tandem.Interop.Tests; this only proves the node publishes what it says.
/// Does nothing where libiscsi-bin is not installed.
/// </summary>
public class InitiatorSmokeTests
{
    [Fact]
    public async Task Discovery_lists_created_targets_on_the_bound_portal_and_honours_the_acl()
    {
        if (!ToolExists("iscsi-ls"))
            return;
        await using var node = await TestNode.StartAsync();
        var device = await TestNode.ReadAsync<DeviceDto>(await node.PostJsonAsync("api/v1/devices",
            new { name = "seen", type = "ram", sizeBytes = 8 << 20 }));
        var portal = node.Node.IscsiPortals[0].ToString();

        var listing = await RunAsync("iscsi-ls", "-s", $"iscsi://{portal}");
        Assert.Contains(device.TargetName, listing);
        Assert.Contains(portal, listing);

        await node.PutJsonAsync($"api/v1/targets/{device.TargetName}/acl", new { initiators = new[] { "iqn.2026-11.org.example:someone-else" } });
        Assert.DoesNotContain(device.TargetName, await RunAsync("iscsi-ls", $"iscsi://{portal}"));
    }

    private static bool ToolExists(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static async Task<string> RunAsync(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return await output + await error;
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
    }
}
