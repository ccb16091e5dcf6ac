using System.Security.Cryptography;
using System.Text;
using Tandem.Storage.Native;

namespace Tandem.Storage;

/// <summary>
/// Replaces a file so that after a crash it holds either the old or the new content, never a
/// mix or nothing (SPEC §1: configuration writes are atomic). Write a temporary file in the same
/// folder, fsync it, rename it over the target, fsync the folder.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of the temporary files; a crash mid-write can leave one behind.</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>
    /// Atomically replaces <paramref name="path"/> with <paramref name="data"/>. The file keeps the
    /// existing file's permissions (a new one gets the default).
    /// </summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> data) => WriteAllBytes(path, data, mode: null);

    /// <summary>
    /// Atomically replaces <paramref name="path"/> with <paramref name="data"/>. With a
    /// <paramref name="mode"/> the temporary file is created with it, so the content never exists
    /// with wider permissions (a 0600 secret stays 0600 all the way). Without one, the existing
    /// file's permissions are kept.
    /// </summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> data, UnixFileMode? mode)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"'{path}' is not a file path.", nameof(path));
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write '{fullPath}': the folder '{directory}' does not exist.");

        UnixFileMode? effectiveMode = mode ?? ExistingMode(fullPath);
        // Hidden, unique, same folder (rename is only atomic within one filesystem).
        string tempPath = Path.Combine(directory,
            $".{Path.GetFileName(fullPath)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}{TempSuffix}");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
            };
            if (effectiveMode is { } createMode && !OperatingSystem.IsWindows())
                options.UnixCreateMode = createMode;
            using (var stream = new FileStream(tempPath, options))
            {
                // UnixCreateMode is narrowed by the umask; set the exact mode asked for.
                if (effectiveMode is { } exactMode && !OperatingSystem.IsWindows())
                    File.SetUnixFileMode(stream.SafeFileHandle, exactMode);
                stream.Write(data);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
        LibC.FSyncDirectory(directory);
    }

    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="text"/> as UTF-8 (no BOM).</summary>
    public static void WriteAllText(string path, string text, UnixFileMode? mode = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, Encoding.UTF8.GetBytes(text), mode);
    }

    private static UnixFileMode? ExistingMode(string path)
    {
        if (OperatingSystem.IsWindows())
            return null;
        try
        {
            return File.Exists(path) ? File.GetUnixFileMode(path) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
