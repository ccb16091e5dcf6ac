using System.Security.Cryptography;

namespace Tandem.Node.Tests.Support;

/// <summary>Every file under a directory with its content hash: proves an operation changed nothing.</summary>
public static class DirectorySnapshot
{
    public static IReadOnlyDictionary<string, string> Take(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToDictionary(p => Path.GetRelativePath(root, p), Hash);

    private static string Hash(string path)
    {
        // Open images are locked by the node; their length and modification time show a change.
        if (path.EndsWith(".img", StringComparison.Ordinal))
        {
            var info = new FileInfo(path);
            return $"{info.Length}:{info.LastWriteTimeUtc.Ticks}";
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var buffer = new byte[stream.Length];
        stream.ReadExactly(buffer);
        return $"{stream.Length}:{Convert.ToHexString(SHA256.HashData(buffer))}";
    }
}
