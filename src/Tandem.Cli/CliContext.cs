namespace Tandem.Cli;

/// <summary>What a command may touch of the outside world; tests substitute every part.</summary>
public sealed record CliContext(TextWriter Out, TextWriter Error, Func<string, string?> GetEnvironmentVariable, string WorkingDirectory)
{
    /// <summary>Makes the HTTP handler of each API client (null: real sockets); tests answer requests without a node.</summary>
    public Func<HttpMessageHandler>? CreateHttpHandler { get; init; }

    public static CliContext FromProcess() =>
        new(Console.Out, Console.Error, Environment.GetEnvironmentVariable, Directory.GetCurrentDirectory());
}
