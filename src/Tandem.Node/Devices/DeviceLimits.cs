namespace Tandem.Node.Devices;

/// <summary>Limits on devices the administrator may create.</summary>
public static class DeviceLimits
{
    /// <summary>Implementation limit: anything smaller is a typo (sizes are bytes), not a disk.</summary>
    public const long MinSizeBytes = 1L << 20;

    /// <summary>Implementation limit: 1 PiB, far beyond a small cluster's disks; keeps LBA maths well inside 64 bits.</summary>
    public const long MaxSizeBytes = 1L << 50;

    /// <summary>Logical sector sizes offered (SPEC §2: 4096 for Windows initiators, 512 for Linux-based hosts).</summary>
    public static readonly int[] SectorSizes = [512, 4096];

    public const int DefaultSectorSize = 512;

    public const string ImageExtension = ".img";
    public const string HeaderExtension = ".tandem.json";
}
