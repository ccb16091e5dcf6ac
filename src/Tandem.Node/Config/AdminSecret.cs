using System.Security.Cryptography;
using Tandem.Node.Errors;
using Tandem.Storage;

namespace Tandem.Node.Config;

/// <summary>
/// The management API password of user <c>admin</c>, kept in <c>admin.secret</c> (mode 0600) so
/// the CLI on the same host can read it and the password survives restarts.
/// </summary>
public static class AdminSecret
{
    public const string UserName = "admin";

    /// <summary>Random bytes in a generated password: 192 bits, far beyond brute force over HTTP.</summary>
    private const int GeneratedPasswordBytes = 24;

    /// <summary>Implementation limit for a password we accept.</summary>
    public const int MaxPasswordLength = 1024;

    /// <summary>
    /// Returns the admin password: <paramref name="givenPassword"/> when set (and stores it, so later
    /// starts without the option keep it), else the stored one, else a new random one (stored).
    /// </summary>
    public static (string Password, bool Generated) LoadOrCreate(string path, string? givenPassword)
    {
        if (!string.IsNullOrEmpty(givenPassword))
        {
            Validate(givenPassword, "--admin-password");
            var existing = TryRead(path);
            if (existing != givenPassword)
                Write(path, givenPassword);
            return (givenPassword, false);
        }

        var stored = TryRead(path);
        if (stored is not null)
            return (stored, false);

        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(GeneratedPasswordBytes))
            .Replace('+', '-').Replace('/', '_').TrimEnd('=');
        Write(path, password);
        return (password, true);
    }

    /// <summary>Reads a stored password, or null when the file does not exist.</summary>
    public static string? TryRead(string path)
    {
        if (!File.Exists(path))
            return null;
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"Cannot read admin password file {path}: {e.Message}", e);
        }

        if (text.Length == 0 || text.Length > MaxPasswordLength || text.Any(char.IsControl))
            throw new TandemException(ErrorCodes.ConfigError,
                $"Admin password file {path} is corrupt (empty, too long or with control characters). Fix it, or delete it to generate a new password.");
        return text;
    }

    private static void Validate(string password, string source)
    {
        if (password.Length > MaxPasswordLength || password.Any(char.IsControl) || password != password.Trim())
            throw new TandemException(ErrorCodes.InvalidArgument,
                $"{source}: the password must be at most {MaxPasswordLength} characters, without control characters or surrounding spaces.");
    }

    private static void Write(string path, string password)
    {
        try
        {
            AtomicFile.WriteAllText(path, password + "\n",
                OperatingSystem.IsWindows() ? null : UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.IoError, $"Cannot write admin password file {path}: {e.Message}", e);
        }
    }
}
