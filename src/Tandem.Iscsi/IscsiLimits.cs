namespace Tandem.Iscsi;

/// <summary>Limits of this iSCSI target, each with the reason it has the value it has.</summary>
internal static class IscsiLimits
{
    /// <summary>RFC 7143 §11.2: every PDU starts with a 48-byte Basic Header Segment.</summary>
    public const int BhsLength = 48;

    /// <summary>RFC 7143 §11.2.1: header and data digests are CRC32C, 4 bytes.</summary>
    public const int DigestLength = 4;

    /// <summary>RFC 7143 §11.2.1: TotalAHSLength counts 4-byte words in one byte.</summary>
    public const int MaxAhsLength = 255 * 4;

    /// <summary>
    /// Implementation limit: the MaxRecvDataSegmentLength we declare. 256 KiB lets a XenServer host
    /// (FirstBurstLength = MaxBurstLength = 262144) send a whole burst in one PDU.
    /// </summary>
    public const int TargetMaxRecvDataSegmentLength = 256 * 1024;

    /// <summary>RFC 7143 §13.12: MaxRecvDataSegmentLength is 8192 until declared otherwise (login phase).</summary>
    public const int DefaultMaxRecvDataSegmentLength = 8192;

    /// <summary>RFC 7143 §13.12: MaxRecvDataSegmentLength range is 512 to 2^24-1.</summary>
    public const int MinDataSegmentLength = 512;

    /// <summary>RFC 7143 §13.13/§13.14: burst lengths range 512 to 2^24-1.</summary>
    public const int MaxBurstLengthLimit = (1 << 24) - 1;

    /// <summary>
    /// Implementation limit: commands a session may have queued (the CmdSN window, RFC 7143 §4.2.2.1).
    /// 128 covers queue depth 128 of ESXi and Linux dm-multipath.
    /// </summary>
    public const int CommandWindow = 128;

    /// <summary>Implementation limit: immediate (I-bit) commands outstanding per session; they bypass the window.</summary>
    public const int MaxImmediateCommands = 16;

    /// <summary>Implementation limit: R2Ts we keep outstanding per task (RFC 7143 §13.17 MaxOutstandingR2T).</summary>
    public const int TargetMaxOutstandingR2T = 16;

    /// <summary>
    /// Implementation limit: data buffer of one command (read or write). Larger commands get
    /// CHECK CONDITION, INVALID FIELD IN CDB; real initiators stay far below it.
    /// </summary>
    public const int MaxCommandDataLength = 64 * 1024 * 1024;

    /// <summary>
    /// Implementation limit: READ and WRITE up to this size run on the connection's receive loop
    /// (a copy of this size costs about as much as a thread hop); larger ones go to workers.
    /// </summary>
    public const int InlineTransferLimit = 64 * 1024;

    /// <summary>Implementation limit: task data buffers one connection may hold at once (TASK SET FULL beyond).</summary>
    public const long MaxBufferedBytesPerConnection = 512L * 1024 * 1024;

    /// <summary>Implementation limit: text (login or Text request) gathered across continued PDUs.</summary>
    public const int MaxTextLength = 64 * 1024;

    /// <summary>Implementation limit: Login Request PDUs in one login phase before we give up.</summary>
    public const int MaxLoginPdus = 32;

    /// <summary>Implementation limit: time a closing session waits for running SCSI commands to end.</summary>
    public static readonly TimeSpan TaskDrainTimeout = TimeSpan.FromSeconds(10);

    /// <summary>RFC 7143 §11.2.1: reserved tag value meaning "none".</summary>
    public const uint ReservedTag = 0xFFFF_FFFF;
}
