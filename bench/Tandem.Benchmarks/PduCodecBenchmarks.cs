using Tandem.Storage.Checksums;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Tandem.Iscsi;
using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Pdu;
using Tandem.Scsi.Transport;

namespace Tandem.Benchmarks;

/// <summary>
/// The PDU codec on its own: parsing a SCSI Command BHS the way the receive loop does, and building the
/// Data-In (status collapsed) and SCSI Response headers the way the send loop does, each with and without
/// the CRC32C header digest.
/// </summary>
[MemoryDiagnoser]
public class PduCodecBenchmarks
{
    private readonly byte[] _command = new byte[IscsiLimits.BhsLength + IscsiLimits.DigestLength];
    private readonly byte[] _response = new byte[IscsiLimits.BhsLength + IscsiLimits.DigestLength];
    private readonly ScsiCommand _scsiCommand = new();
    private uint _sequence;

    [Params(false, true)]
    public bool HeaderDigest { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // A 4 KiB READ(10) as an initiator sends it.
        var bhs = new Bhs(_command);
        bhs.Opcode = Opcode.ScsiCommand;
        bhs.Flags = BhsFlags.Final | BhsFlags.Read | 1;
        bhs.InitiatorTaskTag = 0x1234;
        bhs.Word20 = 4096;
        bhs.Word24 = 77;
        bhs.Word28 = 55;
        bhs.Cdb[0] = 0x28;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.Cdb[2..], 1024);
        BinaryPrimitives.WriteUInt16BigEndian(bhs.Cdb[7..], 1);
        Crc32C.Write(_command.AsSpan(IscsiLimits.BhsLength), Crc32C.Compute(_command.AsSpan(0, IscsiLimits.BhsLength)));
    }

    /// <summary>Header digest check, field reads, AHS parse and CDB copy, as in OnScsiCommandAsync.</summary>
    [Benchmark]
    public uint ParseScsiCommand()
    {
        ReadOnlySpan<byte> received = _command;
        if (HeaderDigest && Crc32C.Read(received[IscsiLimits.BhsLength..]) != Crc32C.Compute(received[..IscsiLimits.BhsLength]))
            throw new InvalidOperationException("header digest error");
        var bhs = new Bhs(_command);
        if (bhs.Opcode != Opcode.ScsiCommand)
            throw new InvalidOperationException("not a SCSI command");
        if (!AdditionalHeaders.TryParse(_command.AsSpan(IscsiLimits.BhsLength, bhs.TotalAhsLength), out ReadOnlySpan<byte> extendedCdb, out _))
            throw new InvalidOperationException("bad AHS");
        ScsiCommand command = _scsiCommand;
        command.Lun = LunEncoding.Decode(bhs.Lun);
        command.InitiatorTaskTag = bhs.InitiatorTaskTag;
        command.Attribute = (TaskAttribute)(bhs.Flags & BhsFlags.AttributeMask);
        command.IsRead = (bhs.Flags & BhsFlags.Read) != 0;
        command.IsWrite = (bhs.Flags & BhsFlags.Write) != 0;
        command.ExpectedTransferLength = (int)bhs.ExpectedDataTransferLength;
        Span<byte> cdb = stackalloc byte[ScsiCommand.MaxCdbLength];
        bhs.Cdb.CopyTo(cdb);
        extendedCdb.CopyTo(cdb[16..]);
        command.SetCdb(cdb[..(16 + extendedCdb.Length)]);
        return bhs.CmdSN + (uint)bhs.DataSegmentLength + (uint)command.ExpectedTransferLength;
    }

    /// <summary>The last Data-In of a read, carrying GOOD status (RFC 7143 §11.7.4), with its digest.</summary>
    [Benchmark]
    public int BuildDataInHeader()
    {
        Span<byte> header = _response.AsSpan(0, IscsiLimits.BhsLength);
        header.Clear();
        var bhs = new Bhs(header);
        bhs.Opcode = Opcode.ScsiDataIn;
        bhs.Flags = BhsFlags.Final | BhsFlags.Status;
        bhs.Byte3 = (byte)ScsiStatus.Good;
        bhs.StatSN = _sequence++;
        bhs.Word44 = 0; // residual
        bhs.DataSegmentLength = 4096;
        bhs.Lun = 0;
        bhs.InitiatorTaskTag = 0x1234;
        bhs.TargetTransferTag = IscsiLimits.ReservedTag;
        bhs.ExpCmdSN = 78;
        bhs.MaxCmdSN = 78 + 127;
        bhs.DataSN = 0;
        bhs.BufferOffset = 0;
        return FinishHeader(header);
    }

    /// <summary>A SCSI Response without sense data (the answer to a write).</summary>
    [Benchmark]
    public int BuildScsiResponseHeader()
    {
        Span<byte> header = _response.AsSpan(0, IscsiLimits.BhsLength);
        header.Clear();
        var bhs = new Bhs(header);
        bhs.Opcode = Opcode.ScsiResponse;
        bhs.Flags = BhsFlags.Final;
        bhs.Byte2 = 0; // command completed at target
        bhs.Byte3 = (byte)ScsiStatus.Good;
        bhs.DataSegmentLength = 0;
        bhs.InitiatorTaskTag = 0x1234;
        bhs.StatSN = _sequence++;
        bhs.ExpCmdSN = 78;
        bhs.MaxCmdSN = 78 + 127;
        bhs.Word36 = 0; // ExpDataSN
        bhs.Word44 = 0; // residual
        return FinishHeader(header);
    }

    private int FinishHeader(Span<byte> header)
    {
        if (!HeaderDigest)
            return IscsiLimits.BhsLength;
        Crc32C.Write(_response.AsSpan(IscsiLimits.BhsLength), Crc32C.Compute(header));
        return IscsiLimits.BhsLength + IscsiLimits.DigestLength;
    }
}
