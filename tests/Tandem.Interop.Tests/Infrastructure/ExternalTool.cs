using System.Diagnostics;
using System.Text;

namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>Result of running a real client (iscsi-ls, qemu-img, iscsi-test-cu …).</summary>
public sealed record ToolResult(string Command, int ExitCode, string StdOut, string StdErr)
{
    public string Output => StdOut + StdErr;

    public override string ToString() => $"$ {Command}\nexit {ExitCode}\n{StdOut}\n{StdErr}";
}

/// <summary>Runs an external program with a timeout, killing it (and its children) if it overruns.</summary>
public static class ExternalTool
{
    public static async Task<ToolResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment)
                info.Environment[key] = value;

        var command = fileName + " " + string.Join(' ', info.ArgumentList);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"{command} did not finish within {timeout}:\n{stdout}\n{stderr}");
        }
        process.WaitForExit(); // drains the asynchronous output readers
        return new ToolResult(command, process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static Task<ToolResult> RunAsync(string fileName, params string[] arguments) =>
        RunAsync(fileName, arguments, TimeSpan.FromMinutes(5));
}
