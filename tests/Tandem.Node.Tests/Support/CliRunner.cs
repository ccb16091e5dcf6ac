using Tandem.Cli;

namespace Tandem.Node.Tests.Support;

/// <summary>Runs the `tandem` entry point in-process with captured output.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error);

    public static async Task<Result> RunAsync(string workingDirectory, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // No environment: tests must not pick up the developer's TANDEM_* variables.
        var context = new CliContext(output, error, _ => null, workingDirectory);
        var code = await CliApp.RunAsync(args, context);
        return new Result(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs a client command against <paramref name="node"/> with its address and password.</summary>
    public static Task<Result> AgainstAsync(TestNode node, params string[] args) =>
        RunAsync(node.DataDir, [.. args, "--server", node.Node.ApiEndpoint.ToString(), "--password", TestNode.Password]);
}
