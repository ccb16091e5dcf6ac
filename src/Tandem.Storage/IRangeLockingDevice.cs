namespace Tandem.Storage;

/// <summary>
/// A device whose writes can also arrive through other paths than this process's own (an HA
/// device: its partner nodes). COMPARE AND WRITE and ORWRITE lock the range against writes
/// through every path while they read, compare and write.
/// </summary>
public interface IRangeLockingDevice : IBlockDevice
{
    /// <summary>Holds back writes to the range through every path and waits for those in flight.</summary>
    ValueTask<IAsyncDisposable> LockRangeAsync(long lba, long blockCount, CancellationToken cancellationToken = default);

    /// <summary>Writes inside a range locked by <see cref="LockRangeAsync"/> (a plain write would wait for the lock).</summary>
    ValueTask WriteLockedAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags, CancellationToken cancellationToken = default);
}
