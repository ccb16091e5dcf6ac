using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tandem.Storage;

/// <summary>
/// The small JSON file beside a device's image (<c>&lt;name&gt;.tandem.json</c> next to
/// <c>&lt;name&gt;.img</c>) holding its identity, geometry, cache settings and HA links, so the
/// device can be re-attached after a reinstall (SPEC §2).
/// </summary>
public sealed record DeviceHeader
{
    /// <summary>The header format this version writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Suffix of header files.</summary>
    public const string FileSuffix = ".tandem.json";

    /// <summary>Suffix of image files.</summary>
    public const string ImageSuffix = ".img";

    /// <summary>Headers are a few hundred bytes; anything this big is not one (implementation limit).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Longest serial number accepted (implementation limit; VPD page 80 allows more, hosts display it).</summary>
    public const int MaxSerialLength = 64;

    /// <summary>Longest iSCSI name (RFC 7143 §4.2.7.1: at most 223 bytes).</summary>
    public const int MaxTargetNameLength = 223;

    /// <summary>Longest device name (implementation limit: it becomes a file name and part of an IQN).</summary>
    public const int MaxNameLength = 128;

    /// <summary>Length of an NAA IEEE Registered Extended identifier in hex digits (SPC-4 §7.8.6.6.5: 16 bytes).</summary>
    public const int NaaHexLength = 32;

    [JsonRequired]
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Device name, unique on a node.</summary>
    public required string Name { get; init; }

    [JsonConverter(typeof(StrictEnumConverter<DeviceType>))]
    public required DeviceType Type { get; init; }

    /// <summary>Image file name, relative to the header's folder (null for RAM disks).</summary>
    public string? ImageFile { get; init; }

    public required long SizeBytes { get; init; }

    /// <summary>Logical block size: 512 or 4096.</summary>
    public required int SectorSize { get; init; }

    [JsonRequired]
    [JsonConverter(typeof(StrictEnumConverter<Provisioning>))]
    public Provisioning Provisioning { get; init; } = Provisioning.Thick;

    /// <summary>NAA-6 logical unit identifier, 32 hex digits; the same on every node of an HA device.</summary>
    public required string Naa { get; init; }

    /// <summary>Unit serial number (VPD page 80); the same on every node of an HA device.</summary>
    public required string Serial { get; init; }

    /// <summary>iSCSI name of the target the device is attached to.</summary>
    public required string TargetName { get; init; }

    public required DateTimeOffset CreatedUtc { get; init; }

    [JsonRequired]
    public DeviceCacheSettings Cache { get; init; } = DeviceCacheSettings.None;

    /// <summary>The replica set of an HA device; null for a device on this node only.</summary>
    public ReplicationHeader? Replication { get; init; }

    /// <summary>Path of the header for a device named <paramref name="name"/> in <paramref name="folder"/>.</summary>
    public static string GetHeaderPath(string folder, string name) => Path.Combine(folder, name + FileSuffix);

    /// <summary>Path of the image for a device named <paramref name="name"/> in <paramref name="folder"/>.</summary>
    public static string GetImagePath(string folder, string name) => Path.Combine(folder, name + ImageSuffix);

    /// <summary>Full path of the image, given where this header lives (null for RAM disks).</summary>
    public string? ResolveImagePath(string headerPath) =>
        ImageFile is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(headerPath))!, ImageFile);

    /// <summary>
    /// Reads and validates a header.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid header; the message names the file and the problem.</exception>
    public static DeviceHeader Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        byte[] bytes = ReadBounded(path);

        // Check the version before binding: a newer format may not bind at all, and "written by a
        // newer Tandem" is the message the administrator needs.
        CheckFormatVersion(path, bytes);

        DeviceHeader? header;
        try
        {
            header = JsonSerializer.Deserialize(bytes, DeviceHeaderJsonContext.Default.DeviceHeader);
        }
        catch (JsonException e)
        {
            throw Invalid(path, e.Message, e);
        }
        if (header is null)
            throw Invalid(path, "the file holds null instead of a device header.");

        string? problem = header.FindProblem();
        if (problem is not null)
            throw Invalid(path, problem);
        return header;
    }

    /// <summary>Validates and atomically writes the header to <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The header is not valid (nothing is written).</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string? problem = FindProblem();
        if (problem is not null)
            throw Invalid(path, problem);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(this, DeviceHeaderJsonContext.Default.DeviceHeader);
        AtomicFile.WriteAllBytes(path, json);
    }

    /// <summary>Throws <see cref="InvalidDataException"/> when the header is not valid.</summary>
    public void Validate()
    {
        string? problem = FindProblem();
        if (problem is not null)
            throw new InvalidDataException($"Device header is invalid: {problem}");
    }

    /// <summary>The first thing wrong with this header, or null when it is valid.</summary>
    public string? FindProblem()
    {
        if (FormatVersion != CurrentFormatVersion)
            return $"formatVersion is {FormatVersion}; this version of Tandem reads format {CurrentFormatVersion}.";
        if (!IsValidName(Name))
            return $"name '{Name}' is not a valid device name (1-{MaxNameLength} printable characters, no '/' or '\\', not '.' or '..').";
        if (!Enum.IsDefined(Type))
            return $"type {(int)Type} is unknown.";
        if (Type == DeviceType.Image)
        {
            if (string.IsNullOrEmpty(ImageFile))
                return "imageFile is missing; an image device needs its image file name.";
            if (!IsPlainFileName(ImageFile))
                return $"imageFile '{ImageFile}' must be a file name in the header's folder, not a path.";
        }
        else if (ImageFile is not null)
        {
            return $"imageFile must be null for a {Type} device.";
        }
        if (!BlockGeometry.IsSupportedBlockSize(SectorSize))
            return $"sectorSize {SectorSize} is not supported; use 512 or 4096.";
        if (SizeBytes <= 0)
            return $"sizeBytes {SizeBytes} is not positive.";
        if (SizeBytes % SectorSize != 0)
            return $"sizeBytes {SizeBytes} is not a multiple of the sector size {SectorSize}.";
        if (!Enum.IsDefined(Provisioning))
            return $"provisioning {(int)Provisioning} is unknown.";
        if (!IsValidNaa(Naa))
            return $"naa '{Naa}' is not an NAA-6 identifier ({NaaHexLength} hex digits starting with 6).";
        if (string.IsNullOrEmpty(Serial) || Serial.Length > MaxSerialLength || !IsPrintableAscii(Serial))
            return $"serial '{Serial}' must be 1-{MaxSerialLength} printable ASCII characters.";
        if (string.IsNullOrEmpty(TargetName) || TargetName.Length > MaxTargetNameLength || !IsPrintableAscii(TargetName) || TargetName.Contains(' '))
            return $"targetName '{TargetName}' must be 1-{MaxTargetNameLength} printable ASCII characters without spaces.";
        if (Cache is null)
            return "cache is missing.";
        if (!Enum.IsDefined(Cache.L1Mode))
            return $"cache.l1Mode {(int)Cache.L1Mode} is unknown.";
        if (Cache.L1SizeMiB < 0)
            return $"cache.l1SizeMiB {Cache.L1SizeMiB} is negative.";
        if (Cache.L2SizeMiB < 0)
            return $"cache.l2SizeMiB {Cache.L2SizeMiB} is negative.";
        if (Cache.L2SizeMiB > 0 && string.IsNullOrWhiteSpace(Cache.L2Path))
            return "cache.l2Path is missing although cache.l2SizeMiB is set.";
        if (Replication is not null)
        {
            if (Type != DeviceType.Image)
                return "replication is only supported for image devices.";
            return Replication.FindProblem();
        }
        return null;
    }

    /// <summary>Whether <paramref name="name"/> can name a device (it becomes part of file names).</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxNameLength && IsPlainFileName(name);

    private static bool IsPlainFileName(string name) =>
        name is not "." and not ".." &&
        name.IndexOfAny(['/', '\\']) < 0 &&
        !name.Any(char.IsControl) &&
        name.Trim() == name;

    private static bool IsValidNaa(string? naa) =>
        naa is { Length: NaaHexLength } && naa[0] == '6' && naa.All(char.IsAsciiHexDigit);

    private static bool IsPrintableAscii(string text) => text.All(c => c is >= ' ' and <= '~');

    private static byte[] ReadBounded(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(handle);
        if (length > MaxFileBytes)
            throw Invalid(path, $"the file is {length} bytes; a device header is at most {MaxFileBytes}.");
        byte[] bytes = new byte[length];
        int done = 0;
        while (done < bytes.Length)
        {
            int read = RandomAccess.Read(handle, bytes.AsSpan(done), done);
            if (read == 0)
                break;
            done += read;
        }
        return done == bytes.Length ? bytes : bytes[..done];
    }

    private static void CheckFormatVersion(string path, byte[] bytes)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Invalid(path, $"expected a JSON object, found {root.ValueKind}.");
            if (!root.TryGetProperty("formatVersion", out JsonElement version))
                throw Invalid(path, "formatVersion is missing.");
            if (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out int value) || value < 1)
                throw Invalid(path, $"formatVersion {version.GetRawText()} is not a positive integer.");
            if (value > CurrentFormatVersion)
                throw Invalid(path,
                    $"it was written by a newer Tandem (format version {value}); this version reads format {CurrentFormatVersion}. Upgrade Tandem to attach this device.");
        }
    }

    private static InvalidDataException Invalid(string path, string problem, Exception? inner = null) =>
        new($"Device header '{Path.GetFullPath(path)}' is invalid: {problem}", inner);
}
