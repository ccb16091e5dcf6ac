using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>READ and WRITE (6), (10), (12), (16) — SBC-3 §5.8-5.11, §5.32-5.35.</summary>
public static class ReadWrite
{
    /// <summary>
    /// READ and WRITE (6), (10), (12), (16): each is one device transfer and nothing else that
    /// could block, so a transport may run them on its own thread inside a NoWait scope.
    /// </summary>
    public static bool IsReadOrWrite(byte opcode) => opcode is
        OperationCode.Read6 or OperationCode.Read10 or OperationCode.Read12 or OperationCode.Read16 or
        OperationCode.Write6 or OperationCode.Write10 or OperationCode.Write12 or OperationCode.Write16;

    /// <summary>READ(6)/WRITE(6): a transfer length of 0 means 256 blocks (SBC-3 §5.8).</summary>
    private const uint SixByteZeroLength = 256;

    public static ValueTask ReadAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!Decode(unit, command, out long lba, out int blocks, out _))
            return ValueTask.CompletedTask;
        return BlockIo.ReadAsync(unit, command, lba, blocks, cancellationToken);
    }

    public static ValueTask WriteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!Decode(unit, command, out long lba, out int blocks, out bool fua))
            return ValueTask.CompletedTask;
        return BlockIo.WriteAsync(unit, command, lba, blocks, fua, cancellationToken);
    }

    /// <summary>Decodes and validates a READ/WRITE CDB; sets CHECK CONDITION and returns false when invalid.</summary>
    internal static bool Decode(ScsiLogicalUnit unit, ScsiCommand command, out long lba, out int blocks, out bool fua)
    {
        var cdb = new BlockCdb(command.Cdb);
        lba = 0;
        blocks = 0;
        fua = cdb.Fua;
        // No protection information (INQUIRY PROTECT=0): any RDPROTECT/WRPROTECT is invalid (SBC-3 §4.22.2).
        if (cdb.Protect != 0)
        {
            Respond.InvalidCdbField(command, 1, 7);
            return false;
        }
        ulong length = cdb.TransferLength;
        if (command.Cdb[0] >> 5 == 0 && length == 0)
            length = SixByteZeroLength;
        if (!BlockIo.CheckRange(unit, command, cdb.Lba, length))
            return false;
        if (!BlockIo.CheckTransferLength(unit, command, length, cdb.LengthByte))
            return false;
        lba = (long)cdb.Lba;
        blocks = (int)length;
        return true;
    }
}
