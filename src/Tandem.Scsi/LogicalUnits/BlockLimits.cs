namespace Tandem.Scsi.LogicalUnits;

/// <summary>Implementation limits advertised in the Block Limits VPD page (SBC-3 §6.5.3) and enforced by the commands.</summary>
public static class BlockLimits
{
    /// <summary>Implementation limit: largest READ/WRITE in bytes (the transport buffers a whole command).</summary>
    public const int MaxTransferBytes = 8 * 1024 * 1024;

    /// <summary>Optimal transfer length in bytes advertised to initiators.</summary>
    public const int OptimalTransferBytes = 1024 * 1024;

    /// <summary>Implementation limit: COMPARE AND WRITE blocks (VPD B0 byte 5; VMware ATS uses 1).</summary>
    public const int MaxCompareAndWriteBlocks = 64;

    /// <summary>Implementation limit: blocks per WRITE SAME (VPD B0 MAXIMUM WRITE SAME LENGTH); keeps one command bounded like a large WRITE.</summary>
    public const uint MaxWriteSameBlocks = 0xFFFF;

    /// <summary>Implementation limit: blocks per UNMAP command (VPD B0 MAXIMUM UNMAP LBA COUNT).</summary>
    public const uint MaxUnmapBlocks = 0x100000;

    /// <summary>Implementation limit: descriptors per UNMAP command (VPD B0 MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT).</summary>
    public const uint MaxUnmapDescriptors = 256;

    /// <summary>Physical block size every device reports (SPEC §2: logical 512 or 4096, physical 4096).</summary>
    public const int PhysicalBlockBytes = 4096;

    /// <summary>Logical blocks per physical block as a power of two (READ CAPACITY(16) byte 13).</summary>
    public static int LogicalPerPhysicalExponent(int blockSize) => blockSize >= PhysicalBlockBytes ? 0 : 3;

    public static int MaxTransferBlocks(int blockSize) => MaxTransferBytes / blockSize;
}
