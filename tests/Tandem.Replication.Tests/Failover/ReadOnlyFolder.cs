using System.Diagnostics;

namespace Tandem.Replication.Tests.Failover;

/// <summary>
/// Makes a folder unwritable for the length of a test. Root ignores permission bits, so as root a
/// read-only tmpfs is mounted over it; otherwise its mode is set to r-x.
/// </summary>
internal sealed class ReadOnlyFolder : IDisposable
{
    private readonly string _path;
    private readonly bool _mounted;

    private ReadOnlyFolder(string path, bool mounted)
    {
        _path = path;
        _mounted = mounted;
    }

    public static ReadOnlyFolder Make(string path)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException();
        if (Environment.UserName != "root")
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            return new ReadOnlyFolder(path, mounted: false);
        }
        if (Run("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tandem-test-ro", path) != 0)
            throw new Xunit.Sdk.XunitException($"running as root, and could not mount a read-only tmpfs on {path} to make it unwritable");
        return new ReadOnlyFolder(path, mounted: true);
    }

    public void Dispose()
    {
        if (_mounted)
            Run("umount", _path);
        else if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static int Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
