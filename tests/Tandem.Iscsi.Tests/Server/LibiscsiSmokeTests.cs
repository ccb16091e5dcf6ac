using System.Diagnostics;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Server;

/// <summary>Smoke tests with libiscsi's own tools when they are installed (libiscsi-bin).</summary>
public class LibiscsiSmokeTests
{
    private static async Task<(int ExitCode, string Output)> RunAsync(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static bool Installed(string tool) => File.Exists($"/usr/bin/{tool}");

    [Fact]
    public async Task IscsiLsDiscoversTargetsAndLuns()
    {
        if (!Installed("iscsi-ls"))
            return; // libiscsi-bin not installed here
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        var (code, output) = await RunAsync("/usr/bin/iscsi-ls", "-s", $"iscsi://127.0.0.1:{fixture.EndPoint.Port}");
        Assert.Contains($"Target:{ServerFixture.TargetName} Portal:127.0.0.1:{fixture.EndPoint.Port},1", output);
        Assert.Contains("Lun:0", output);
        Assert.Contains("DIRECT_ACCESS", output);
        Assert.DoesNotContain(ServerFixture.HiddenTargetName, output);
        _ = code; // non-zero: the CHAP target cannot be listed without credentials
    }

    [Fact]
    public async Task IscsiInqReadsTheStandardInquiry()
    {
        if (!Installed("iscsi-inq"))
            return;
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        var (code, output) = await RunAsync("/usr/bin/iscsi-inq", $"iscsi://127.0.0.1:{fixture.EndPoint.Port}/{ServerFixture.TargetName}/0");
        Assert.True(code == 0, output);
        Assert.Contains("Vendor:TANDEM", output);
        await LoginAndIoTests.Eventually(() => fixture.Server.GetSessions().Count == 0);
    }

    [Fact]
    public async Task IscsiInqWithMutualChap()
    {
        if (!Installed("iscsi-inq"))
            return;
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        var info = new ProcessStartInfo("/usr/bin/iscsi-inq") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add($"iscsi://alice%alice-secret-12@127.0.0.1:{fixture.EndPoint.Port}/{ServerFixture.ChapTargetName}/0");
        info.Environment["LIBISCSI_CHAP_TARGET_USERNAME"] = "target";
        info.Environment["LIBISCSI_CHAP_TARGET_PASSWORD"] = "target-secret-34";
        using Process process = Process.Start(info)!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, output);
        Assert.Contains("Vendor:TANDEM", output);
    }

    [Fact]
    public async Task IscsiTestCuIscsiFamiliesPass()
    {
        if (!Installed("iscsi-test-cu"))
            return;
        await using ServerFixture fixture = await ServerFixture.StartAsync();
        var (code, output) = await RunAsync("/usr/bin/iscsi-test-cu", "-d", "-s", "-t", "iSCSI", $"iscsi://127.0.0.1:{fixture.EndPoint.Port}/{ServerFixture.TargetName}/0");
        Assert.True(code == 0, output);
        Assert.Matches(@"tests\s+15\s+15\s+15\s+0", output);
    }
}
