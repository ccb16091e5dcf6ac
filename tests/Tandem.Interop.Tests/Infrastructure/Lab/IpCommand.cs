namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// Runs iproute2's <c>ip</c> (and <c>ss</c> inside a namespace) for the lab: setting up fails
/// loudly with the command's own message; tearing down goes on past failures and reports them.
/// </summary>
internal static class IpCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary><c>ip ARGS</c>; throws with the command and its output when it fails.</summary>
    public static async Task<string> RunAsync(params string[] arguments)
    {
        var result = await ExternalTool.RunAsync("ip", arguments, Timeout);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"network lab: {result}");
        return result.StdOut;
    }

    /// <summary><c>ip ARGS</c> for teardown: never throws; returns the problem, or null when it worked.</summary>
    public static async Task<string?> TryAsync(params string[] arguments)
    {
        try
        {
            var result = await ExternalTool.RunAsync("ip", arguments, Timeout);
            return result.ExitCode == 0 ? null : result.ToString().Trim();
        }
        catch (Exception e)
        {
            return $"ip {string.Join(' ', arguments)}: {e.Message}";
        }
    }

    /// <summary>A program run inside <paramref name="ns"/>: <c>ip netns exec NS PROGRAM ARGS</c>.</summary>
    public static Task<string> InNamespaceAsync(string ns, string program, params string[] arguments) =>
        RunAsync(["netns", "exec", ns, program, .. arguments]);

    /// <summary>Names of every network namespace on the machine.</summary>
    public static async Task<IReadOnlyList<string>> NamespacesAsync()
    {
        // "NAME" or "NAME (id: N)" per line.
        var listing = await RunAsync("netns", "list");
        return [.. listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0])];
    }

    /// <summary>Processes running in <paramref name="ns"/>.</summary>
    public static async Task<IReadOnlyList<int>> ProcessesInAsync(string ns)
    {
        var result = await ExternalTool.RunAsync("ip", ["netns", "pids", ns], Timeout);
        if (result.ExitCode != 0)
            return [];
        return [.. result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse)];
    }
}
