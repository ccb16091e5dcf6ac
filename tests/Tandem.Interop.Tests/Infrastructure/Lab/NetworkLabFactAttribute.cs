using System.Diagnostics;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// A test that needs the <see cref="NetworkLab"/>: skipped, with the reason, where network
/// namespaces cannot be created (not root, no CAP_NET_ADMIN, no iproute2). CI and the
/// developers' machines run as root, so there it runs.
/// </summary>
public sealed class NetworkLabFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(Probe);

    public NetworkLabFactAttribute()
    {
        if (Unavailable.Value is { } reason)
            Skip = reason;
    }

    /// <summary>Creates and deletes one namespace; returns why that failed, or null.</summary>
    private static string? Probe()
    {
        string name = $"{NetworkLab.NamespacePrefix}{Environment.ProcessId}-probe";
        try
        {
            var (added, error) = Ip("netns", "add", name);
            if (!added)
                return $"network lab unavailable: cannot create a network namespace (needs root or CAP_NET_ADMIN): {error}";
            Ip("netns", "del", name);
            return null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"network lab unavailable: cannot run iproute2's ip ({e.Message}); scripts/test.sh installs it";
        }
    }

    private static (bool Ok, string Error) Ip(params string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode == 0, error.Trim());
    }
}
