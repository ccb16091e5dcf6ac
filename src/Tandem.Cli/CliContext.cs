namespace Tandem.Cli;

/// <summary>What a command may touch of the outside world; tests substitute every part.</summary>
public sealed record CliContext(TextWriter Out, TextWriter Error, Func<string, string?> GetEnvironmentVariable, string WorkingDirectory)
{
    public static CliContext FromProcess() =>
        new(Console.Out, Console.Error, Environment.GetEnvironmentVariable, Directory.GetCurrentDirectory());
}
