using System.Security.Cryptography;
using Tandem.Node.Errors;
using Tandem.Node.Validation;

namespace Tandem.Node.HighAvailability;

/// <summary>
/// Checks the shared folder of a file-share witness on this node before the device relies on it:
/// absolute, present (the share is mounted) and writable (a probe file is created and deleted).
/// Both data nodes check, since each writes the lease file through its own mount.
/// </summary>
internal static class WitnessFolder
{
    public static void Check(string path, string nodeName)
    {
        if (!Path.IsPathFullyQualified(path))
            throw TandemException.Invalid($"Witness path '{Names.Printable(path)}' is not an absolute path.");
        if (!Directory.Exists(path))
            throw TandemException.Invalid($"Witness path {Names.Printable(path)} is not a folder on node {nodeName} (is the share mounted?).");
        string probe = Path.Combine(path, $".tandem-witness-probe-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
        try
        {
            using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
                stream.WriteByte(0);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(probe);
            throw TandemException.Invalid($"Witness path {Names.Printable(path)} is not writable on node {nodeName}: {e.Message}");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The probe was never created, or the share went away: nothing left to clean.
        }
    }
}
