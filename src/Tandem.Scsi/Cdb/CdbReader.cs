using System.Buffers.Binary;

namespace Tandem.Scsi.Cdb;

/// <summary>Big-endian field access into CDBs and parameter lists (SPC-4 §4.3).</summary>
public static class CdbReader
{
    public static ushort U16(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt16BigEndian(b[offset..]);
    public static uint U24(ReadOnlySpan<byte> b, int offset) => (uint)(b[offset] << 16 | b[offset + 1] << 8 | b[offset + 2]);
    public static uint U32(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt32BigEndian(b[offset..]);
    public static ulong U64(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt64BigEndian(b[offset..]);

    /// <summary>Allocation length of a CDB; 0 for CDBs too short to carry one.</summary>
    public static int AllocationLength(ReadOnlySpan<byte> cdb, int offset, int width) =>
        cdb.Length < offset + width ? 0 : width switch
        {
            1 => cdb[offset],
            2 => U16(cdb, offset),
            3 => (int)U24(cdb, offset),
            _ => (int)Math.Min(U32(cdb, offset), int.MaxValue),
        };

    /// <summary>Length of a CDB given its operation code group (SPC-4 §4.2.5.1); 0 for vendor/reserved groups.</summary>
    public static int ExpectedLength(byte opcode) => (opcode >> 5) switch
    {
        0 => 6,
        1 or 2 => 10,
        4 => 16,
        5 => 12,
        _ => 0,
    };
}
