using System.Buffers.Binary;
using Tandem.Scsi.Alua;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;
using Tandem.Storage;

namespace Tandem.Scsi.Tests.Support;

/// <summary>A target with one logical unit at LUN 0 over a real device, and helpers to run CDBs against it.</summary>
public sealed class ScsiHarness : IAsyncDisposable
{
    public static readonly byte[] Naa = [0x60, 0x01, 0x40, 0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0, 1, 2, 3, 4, 5, 6, 7];

    private readonly string? _tempDir;

    public ScsiHarness(int blockSize = 512, long blocks = 2048, bool thin = false, LogicalUnitOptions? options = null, IBlockDevice? device = null)
    {
        if (device is null && thin)
        {
            _tempDir = Path.Combine(Path.GetTempPath(), $"tandem-scsi-test-{Guid.NewGuid():N}");
            Directory.CreateDirectory(_tempDir);
            device = ImageFileDevice.Create(Path.Combine(_tempDir, "thin.img"), blocks * blockSize, blockSize, Provisioning.Thin);
        }
        Device = device ?? new RamDevice(blocks * blockSize, blockSize);
        Target = new ScsiTarget();
        Unit = new ScsiLogicalUnit(Device, new LogicalUnitIdentity(Naa, "SERIAL0001"), options ?? new LogicalUnitOptions());
        Target.AddLogicalUnit(0, Unit);
        Target.NexusCreated(A);
        Target.NexusCreated(B);
    }

    public static readonly ITNexus A = new("iqn.2026-01.test:host-a", 0x23D000000001, "iqn.2026-11.org.tandem:node-disk", 1, 1, 1);
    public static readonly ITNexus B = new("iqn.2026-01.test:host-b", 0x23D000000002, "iqn.2026-11.org.tandem:node-disk", 1, 1, 1);

    public IBlockDevice Device { get; }
    public ScsiTarget Target { get; }
    public ScsiLogicalUnit Unit { get; }
    public int BlockSize => Device.BlockSize;

    /// <summary>Runs a CDB; data-in gets a buffer of <paramref name="dataIn"/> bytes.</summary>
    public async Task<Result> RunAsync(byte[] cdb, byte[]? dataOut = null, int dataIn = 0, ITNexus? nexus = null, ulong lun = 0)
    {
        var command = new ScsiCommand
        {
            Nexus = nexus ?? A,
            Lun = lun,
            ExpectedTransferLength = dataOut?.Length ?? dataIn,
            IsWrite = dataOut is not null,
            IsRead = dataIn > 0,
            DataOut = dataOut ?? ReadOnlyMemory<byte>.Empty,
        };
        var buffer = new byte[dataIn];
        command.DataIn = buffer;
        command.SetCdb(cdb);
        await Target.ExecuteAsync(command);
        return new Result(command.Status, command.Sense.ToArray(), buffer, command.TransferLength);
    }

    public sealed record Result(ScsiStatus Status, byte[] Sense, byte[] DataIn, int TransferLength)
    {
        public SenseCode Code => SenseData.Parse(Sense);

        public byte[] Data => DataIn.AsSpan(0, Math.Min(TransferLength, DataIn.Length)).ToArray();

        public Result Good()
        {
            Assert.True(Status == ScsiStatus.Good, $"expected GOOD, got {Status} {Code}");
            return this;
        }

        public Result Check(SenseCode expected)
        {
            Assert.Equal(ScsiStatus.CheckCondition, Status);
            Assert.Equal(expected, Code);
            return this;
        }

        public Result Conflict()
        {
            Assert.Equal(ScsiStatus.ReservationConflict, Status);
            return this;
        }

        /// <summary>INVALID FIELD IN CDB with the sense-key specific field pointer at <paramref name="byteIndex"/>.</summary>
        public Result InvalidCdbField(int byteIndex, int? bit = null)
        {
            Check(SenseCodes.InvalidFieldInCdb);
            Assert.Equal(0xC0, Sense[15] & 0xC0); // SKSV, C/D = CDB
            Assert.Equal(byteIndex, BinaryPrimitives.ReadUInt16BigEndian(Sense.AsSpan(16)));
            if (bit is int b)
                Assert.Equal(0x08 | b, Sense[15] & 0x0F);
            return this;
        }

        public uint Information => BinaryPrimitives.ReadUInt32BigEndian(Sense.AsSpan(3));
    }

    // ---- CDB builders -----------------------------------------------------------------------

    public static byte[] Read10(uint lba, ushort blocks, byte flags = 0) => Cdb10(0x28, flags, lba, blocks);
    public static byte[] Write10(uint lba, ushort blocks, byte flags = 0) => Cdb10(0x2A, flags, lba, blocks);

    public static byte[] Cdb10(byte opcode, byte flags, uint lba, ushort length)
    {
        var cdb = new byte[10];
        cdb[0] = opcode;
        cdb[1] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), length);
        return cdb;
    }

    public static byte[] Cdb16(byte opcode, byte flags, ulong lba, uint length)
    {
        var cdb = new byte[16];
        cdb[0] = opcode;
        cdb[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), length);
        return cdb;
    }

    public static byte[] Inquiry(bool evpd = false, byte page = 0, ushort allocation = 255) =>
        [0x12, (byte)(evpd ? 1 : 0), page, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] TestUnitReady => [0, 0, 0, 0, 0, 0];

    public static byte[] RequestSense(byte allocation = 18) => [0x03, 0, 0, 0, allocation, 0];

    public static byte[] ReportLuns(uint allocation = 256)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA0;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), allocation);
        return cdb;
    }

    public byte[] Pattern(int blocks, byte seed)
    {
        var data = new byte[blocks * BlockSize];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(seed + i * 7);
        return data;
    }

    public async ValueTask DisposeAsync()
    {
        await Device.DisposeAsync();
        if (_tempDir is not null)
            Directory.Delete(_tempDir, recursive: true);
    }
}

/// <summary>A device decorator that records the flags of every write (FUA checks).</summary>
public sealed class RecordingDevice(IBlockDevice inner) : IBlockDevice
{
    public List<WriteFlags> Writes { get; } = [];
    public int Flushes;

    public int BlockSize => inner.BlockSize;
    public long BlockCount => inner.BlockCount;
    public bool IsThinProvisioned => inner.IsThinProvisioned;
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(lba, buffer, cancellationToken);

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags = WriteFlags.None, CancellationToken cancellationToken = default)
    {
        lock (Writes)
            Writes.Add(flags);
        return inner.WriteAsync(lba, data, flags, cancellationToken);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Flushes);
        return inner.FlushAsync(cancellationToken);
    }

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => inner.UnmapAsync(lba, blockCount, cancellationToken);
    public ValueTask<LbaExtent> GetLbaStatusAsync(long lba, CancellationToken cancellationToken = default) => inner.GetLbaStatusAsync(lba, cancellationToken);
    public ValueTask ResizeAsync(long newBlockCount, CancellationToken cancellationToken = default) => inner.ResizeAsync(newBlockCount, cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

public static class AluaGroups
{
    public static MutableAlua TwoNodes() => new(
        new TargetPortGroupInfo(1, AluaState.ActiveOptimized, true, [1]),
        new TargetPortGroupInfo(2, AluaState.ActiveNonOptimized, false, [2]));
}
