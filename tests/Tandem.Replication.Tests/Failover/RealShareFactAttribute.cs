namespace Tandem.Replication.Tests.Failover;

/// <summary>
/// A test that needs a real network share: the folder in TANDEM_WITNESS_SHARE, or else a loopback
/// NFS or SMB mount found in /proc/mounts (<c>127.0.0.1:/export</c>, <c>//127.0.0.1/export</c>).
/// Skipped, saying why, where there is none (many sandboxes' kernels have no NFS or SMB client).
/// </summary>
public sealed class RealShareFactAttribute : FactAttribute
{
    public RealShareFactAttribute()
    {
        if (Find(out string why) is null)
            Skip = why;
    }

    public static string? Find(out string why)
    {
        why = "";
        if (Environment.GetEnvironmentVariable("TANDEM_WITNESS_SHARE") is { Length: > 0 } configured)
            return configured;
        string[] mounts = File.Exists("/proc/mounts") ? File.ReadAllLines("/proc/mounts") : [];
        foreach (string[] fields in mounts.Select(line => line.Split(' ')))
        {
            if (fields.Length > 2 && fields[2] is "nfs" or "nfs4" or "cifs" or "smb3" &&
                (fields[0].StartsWith("127.0.0.1:", StringComparison.Ordinal) || fields[0].StartsWith("//127.0.0.1/", StringComparison.Ordinal)))
            {
                return fields[1];
            }
        }
        string kernel = File.Exists("/proc/filesystems") ? File.ReadAllText("/proc/filesystems") : "";
        bool client = kernel.Contains("\tnfs") || kernel.Contains("\tcifs") || kernel.Contains("\tsmb3");
        why = client
            ? "no loopback share mounted: mount 127.0.0.1:/export (NFS) or //127.0.0.1/export (SMB, cifs), or set TANDEM_WITNESS_SHARE"
            : "this kernel has no NFS or SMB client (/proc/filesystems lists neither nfs nor cifs); set TANDEM_WITNESS_SHARE to a mounted share to run it";
        return null;
    }
}
