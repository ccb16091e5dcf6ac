using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>
/// WRITE AND VERIFY (10), (12), (16) — SBC-3 §5.40-5.42. The write is made durable (FUA) before
/// the command completes: a verified write that could still vanish in a volatile cache would not
/// be verified. Our devices return what was written, so the byte-by-byte check always passes.
/// </summary>
public static class WriteAndVerify
{
    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        if (!ReadWrite.Decode(unit, command, out long lba, out int blocks, out _))
            return ValueTask.CompletedTask;
        return BlockIo.WriteAsync(unit, command, lba, blocks, forceUnitAccess: true, cancellationToken);
    }
}
