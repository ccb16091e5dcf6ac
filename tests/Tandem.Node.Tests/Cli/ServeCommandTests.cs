using System.Diagnostics;
using System.Text.RegularExpressions;
using Tandem.Cli;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Cli;

public partial class ServeCommandTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [GeneratedRegex(@"API:\s+http://(\S+)")]
    private static partial Regex ApiLine();

    private static (Task<int> Running, LockedStringWriter Out, LockedStringWriter Error, CancellationTokenSource Stop) Start(
        string workingDirectory, params string[] args)
    {
        var output = new LockedStringWriter();
        var error = new LockedStringWriter();
        var stop = new CancellationTokenSource();
        var context = new CliContext(output, error, _ => null, workingDirectory);
        var running = Task.Run(() => CliApp.RunAsync(args, context, stop.Token));
        return (running, output, error, stop);
    }

    [Fact]
    public async Task Serve_runs_a_node_the_cli_can_manage_and_stops_cleanly()
    {
        using var dir = new TempDirectory();
        var (running, output, error, stop) = Start(dir.Path, "serve", "--data-dir", "data", "--portal", "127.0.0.1:0",
            "--api", "127.0.0.1:0", "--node-name", "clinode", "--admin-password", "cli-test-password");
        using (stop)
        {
            await output.WaitForAsync("Stop with Ctrl+C", running, StartTimeout);
            var api = ApiLine().Match(output.ToString()).Groups[1].Value;
            Assert.Contains(dir.Combine("data", "admin.secret"), output.ToString());

            var create = await CliRunner.RunAsync(dir.Path, "device", "create", "--name", "v", "--size", "1M", "--server", api, "--password", "cli-test-password");
            Assert.True(create.ExitCode == 0, create.Error);
            Assert.Contains("iqn.2026-11.org.tandem:clinode-v", create.Out);

            stop.Cancel();
            Assert.Equal(0, await running.WaitAsync(StartTimeout));
        }

        Assert.True(File.Exists(dir.Combine("data", "node.json")));
        Assert.True(File.Exists(dir.Combine("data", "devices", "v.img")));
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public async Task Demo_creates_a_thin_demo_device_and_prints_how_to_reach_it()
    {
        using var dir = new TempDirectory();
        var (running, output, _, stop) = Start(dir.Path, "demo", "--portal", "127.0.0.1:0", "--api", "127.0.0.1:0", "--node-name", "demonode");
        using (stop)
        {
            await output.WaitForAsync("qemu-img info", running, StartTimeout);
            var text = output.ToString();
            Assert.Matches(@"iscsi://127\.0\.0\.1:\d+/iqn\.2026-11\.org\.tandem:demonode-demo/0", text);
            Assert.Matches(@"iscsiadm -m discovery -t sendtargets -p 127\.0\.0\.1:\d+", text);
            Assert.Matches(@"iscsiadm -m node -T iqn\.2026-11\.org\.tandem:demonode-demo -p 127\.0\.0\.1:\d+ --login", text);
            // Default data dir is ./tandem-data under the working directory.
            Assert.Contains(dir.Combine("tandem-data", "admin.secret"), text);
            stop.Cancel();
            Assert.Equal(0, await running.WaitAsync(StartTimeout));
        }

        var image = new FileInfo(dir.Combine("tandem-data", "devices", "demo.img"));
        Assert.Equal(1L << 30, image.Length);

        // A second demo run reuses the device instead of failing.
        var (again, output2, _, stop2) = Start(dir.Path, "demo", "--portal", "127.0.0.1:0", "--api", "127.0.0.1:0", "--node-name", "demonode");
        using (stop2)
        {
            await output2.WaitForAsync("qemu-img info", again, StartTimeout);
            stop2.Cancel();
            Assert.Equal(0, await again.WaitAsync(StartTimeout));
        }
    }

    [Fact]
    public async Task Serve_fails_clearly_on_a_corrupt_config()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("data"));
        File.WriteAllText(dir.Combine("data", "node.json"), "garbage");
        var result = await CliRunner.RunAsync(dir.Path, "serve", "--data-dir", "data", "--portal", "127.0.0.1:0", "--api", "127.0.0.1:0");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(dir.Combine("data", "node.json"), result.Error);
        Assert.Equal("garbage", File.ReadAllText(dir.Combine("data", "node.json")));
    }

    [Fact]
    public async Task Serve_fails_clearly_when_a_port_is_taken()
    {
        await using var node = await TestNode.StartAsync();
        using var dir = new TempDirectory();
        var result = await CliRunner.RunAsync(dir.Path, "serve", "--data-dir", "data", "--portal", "127.0.0.1:0",
            "--api", node.Node.ApiEndpoint.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(node.Node.ApiEndpoint.ToString(), result.Error);
    }

    [Theory]
    [InlineData("--portal", "nonsense")]
    [InlineData("--api", "127.0.0.1")]
    [InlineData("--iqn-prefix", "bad")]
    [InlineData("--vendor", "FAR-TOO-LONG-VENDOR")]
    [InlineData("--link-timeout", "0.2")]
    [InlineData("--link-timeout", "600")]
    [InlineData("--link-timeout", "soon")]
    [InlineData("--witness-lease", "0")]
    [InlineData("--witness-lease", "-3")]
    public async Task Serve_refuses_bad_options_with_exit_2(string option, string value)
    {
        using var dir = new TempDirectory();
        var result = await CliRunner.RunAsync(dir.Path, "serve", "--data-dir", "data", "--portal", "127.0.0.1:0", "--api", "127.0.0.1:0", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Error);
    }

    [Fact]
    public async Task Sigterm_shuts_the_process_down_cleanly()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var dir = new TempDirectory();
        var tandemDll = Path.Combine(AppContext.BaseDirectory, "tandem.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { tandemDll, "serve", "--data-dir", dir.Combine("data"), "--portal", "127.0.0.1:0", "--api", "127.0.0.1:0", "--node-name", "sig" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir.Path,
        };
        using var process = Process.Start(start)!;
        try
        {
            var output = new LockedStringWriter();
            var reader = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                    output.Write(line + "\n");
            });
            var stderr = process.StandardError.ReadToEndAsync();
            var exited = process.WaitForExitAsync();
            await output.WaitForAsync("Stop with Ctrl+C", Task.WhenAny(exited, Task.Delay(Timeout.Infinite)).ContinueWith(_ => -1), StartTimeout);

            Assert.Equal(0, Kill(process.Id, 15 /* SIGTERM */));
            await exited.WaitAsync(StartTimeout);
            await reader;
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {output} {await stderr}");
            Assert.Contains("stopped", output.ToString());
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
