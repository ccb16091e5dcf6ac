namespace Tandem.Scsi.Transport;

/// <summary>
/// One SCSI command as a transport (iSCSI) hands it to the SCSI layer, and the place the SCSI
/// layer leaves its result. Instances are owned and reused by the transport (one per task
/// slot), so the hot path allocates nothing.
/// </summary>
/// <remarks>
/// Contract:
/// <list type="bullet">
/// <item>The transport fills <see cref="Nexus"/>, <see cref="Lun"/>, the CDB, <see cref="Attribute"/>,
/// <see cref="ExpectedTransferLength"/>, and for writes gathers all data-out into <see cref="DataOut"/>
/// (its length is the number of bytes the initiator actually sent, at most the expected length).
/// For reads it provides <see cref="DataIn"/> of <see cref="ExpectedTransferLength"/> bytes.</item>
/// <item>The SCSI layer sets <see cref="Status"/>, the sense data for CHECK CONDITION, and
/// <see cref="TransferLength"/>: the number of bytes the CDB asks to move in its data direction
/// (for reads: what it would return, bounded by the allocation length). It writes at most
/// <c>DataIn.Length</c> bytes. The transport derives residual overflow/underflow from
/// <see cref="TransferLength"/> versus <see cref="ExpectedTransferLength"/>.</item>
/// </list>
/// </remarks>
public sealed class ScsiCommand
{
    /// <summary>Implementation limit: 16-byte CDBs in the PDU plus an extended-CDB AHS up to a 32-byte variable-length CDB.</summary>
    public const int MaxCdbLength = 32;

    /// <summary>SPC-4 fixed-format sense data with room for descriptors.</summary>
    public const int MaxSenseLength = 96;

    private readonly byte[] _cdb = new byte[MaxCdbLength];
    private readonly byte[] _sense = new byte[MaxSenseLength];

    public ITNexus Nexus { get; set; } = null!;
    public ulong Lun { get; set; }
    public uint InitiatorTaskTag { get; set; }
    public TaskAttribute Attribute { get; set; }
    public int CdbLength { get; private set; }
    public ReadOnlySpan<byte> Cdb => _cdb.AsSpan(0, CdbLength);
    public int ExpectedTransferLength { get; set; }
    public bool IsRead { get; set; }
    public bool IsWrite { get; set; }
    public ReadOnlyMemory<byte> DataOut { get; set; }
    public Memory<byte> DataIn { get; set; }

    public ScsiStatus Status { get; set; }
    public int TransferLength { get; set; }
    public int SenseLength { get; private set; }
    public ReadOnlySpan<byte> Sense => _sense.AsSpan(0, SenseLength);

    /// <summary>Copies the CDB in; rejects CDBs longer than <see cref="MaxCdbLength"/>.</summary>
    public void SetCdb(ReadOnlySpan<byte> cdb)
    {
        if (cdb.Length > MaxCdbLength)
            throw new ArgumentException($"CDB of {cdb.Length} bytes exceeds the {MaxCdbLength}-byte limit", nameof(cdb));
        cdb.CopyTo(_cdb);
        _cdb.AsSpan(cdb.Length).Clear();
        CdbLength = cdb.Length;
    }

    /// <summary>Buffer the SCSI layer fills with sense data; call <see cref="SetSenseLength"/> after.</summary>
    public Span<byte> SenseBuffer => _sense;

    public void SetSenseLength(int length) => SenseLength = Math.Clamp(length, 0, MaxSenseLength);

    /// <summary>Clears results and inputs so the slot can carry the next command.</summary>
    public void Reset()
    {
        Nexus = null!;
        Lun = 0;
        InitiatorTaskTag = 0;
        Attribute = TaskAttribute.Simple;
        CdbLength = 0;
        ExpectedTransferLength = 0;
        IsRead = IsWrite = false;
        DataOut = default;
        DataIn = default;
        Status = ScsiStatus.Good;
        TransferLength = 0;
        SenseLength = 0;
    }
}

/// <summary>SAM-5 status codes.</summary>
public enum ScsiStatus : byte
{
    Good = 0x00,
    CheckCondition = 0x02,
    ConditionMet = 0x04,
    Busy = 0x08,
    ReservationConflict = 0x18,
    TaskSetFull = 0x28,
    AcaActive = 0x30,
    TaskAborted = 0x40,
}

/// <summary>SAM-5 task attributes (iSCSI ATTR field values).</summary>
public enum TaskAttribute : byte
{
    Untagged = 0,
    Simple = 1,
    Ordered = 2,
    HeadOfQueue = 3,
    Aca = 4,
}
