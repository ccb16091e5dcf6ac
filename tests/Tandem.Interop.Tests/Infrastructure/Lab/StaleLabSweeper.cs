using System.Diagnostics;

namespace Tandem.Interop.Tests.Infrastructure.Lab;

/// <summary>
/// Removes what lab runs of test processes that no longer exist left behind (a test host killed
/// mid-run never reaches its Dispose): their namespaces, the processes in them, and their root
/// interface. Runs of live processes, parallel ones included, are left alone.
/// </summary>
internal static class StaleLabSweeper
{
    public static async Task SweepAsync(Action<string> log)
    {
        var stale = (await IpCommand.NamespacesAsync())
            .Select(name => (Name: name, Run: ParseRun(name)))
            .Where(ns => ns.Run is { } run && !IsAlive(run.Pid))
            .ToList();
        foreach (var ns in stale)
        {
            foreach (var problem in await KillProcessesInAsync(ns.Name))
                log($"network lab sweep: {problem}");
        }
        foreach (var runId in stale.Select(ns => ns.Run!.Value.RunId).Distinct())
            await IpCommand.TryAsync("link", "del", NetworkLab.RootInterfacePrefix + runId);
        foreach (var ns in stale)
        {
            var problem = await IpCommand.TryAsync("netns", "del", ns.Name);
            log(problem is null ? $"network lab sweep: removed {ns.Name}, left by a test process that is gone" : $"network lab sweep: {problem}");
        }
    }

    /// <summary>SIGKILLs every process in <paramref name="ns"/> and waits until none is left; returns problems.</summary>
    public static async Task<IReadOnlyList<string>> KillProcessesInAsync(string ns)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var pids = await IpCommand.ProcessesInAsync(ns);
            if (pids.Count == 0)
                return [];
            if (DateTime.UtcNow > deadline)
                return [$"processes {string.Join(", ", pids)} in {ns} survived SIGKILL"];
            foreach (var pid in pids)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Already gone.
                }
            }
            await Task.Delay(50);
        }
    }

    /// <summary>(test process id, run id) from <c>tandemlab-PID-RUNID-…</c>, or null for other namespaces.</summary>
    private static (int Pid, string RunId)? ParseRun(string name)
    {
        if (!name.StartsWith(NetworkLab.NamespacePrefix, StringComparison.Ordinal))
            return null;
        var parts = name[NetworkLab.NamespacePrefix.Length..].Split('-');
        return parts.Length >= 2 && int.TryParse(parts[0], out int pid) ? (pid, parts[1]) : null;
    }

    private static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");
}
