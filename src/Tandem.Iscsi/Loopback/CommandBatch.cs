using Tandem.Storage.Checksums;
using System.Buffers.Binary;
using Tandem.Iscsi.Pdu;

namespace Tandem.Iscsi.Loopback;

/// <summary>
/// SCSI Command PDUs laid out back to back, as an initiator writes a queue of commands to its socket.
/// Built once; before each run <see cref="Stamp"/> gives every PDU a fresh ITT and the next CmdSN (and
/// refreshes its header digest), so the same bytes can be replayed for as long as a benchmark runs.
/// </summary>
internal sealed class CommandBatch
{
    private readonly byte[] _bytes;
    private readonly int[] _headerOffsets;
    private readonly bool _headerDigest;

    public CommandBatch(byte[] bytes, int[] headerOffsets, bool headerDigest)
    {
        _bytes = bytes;
        _headerOffsets = headerOffsets;
        _headerDigest = headerDigest;
    }

    /// <summary>Commands in the batch: each ends with exactly one status.</summary>
    public int Count => _headerOffsets.Length;

    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Writes the ITT and CmdSN of each command and recomputes its header digest.</summary>
    public void Stamp(ref uint cmdSN, ref uint initiatorTaskTag)
    {
        foreach (int offset in _headerOffsets)
        {
            var bhs = new Bhs(_bytes.AsSpan(offset, IscsiLimits.BhsLength));
            uint itt = initiatorTaskTag++;
            if (itt == IscsiLimits.ReservedTag)
                itt = initiatorTaskTag++;
            bhs.InitiatorTaskTag = itt;
            bhs.Word24 = cmdSN++;
            if (_headerDigest)
                Crc32C.Write(_bytes.AsSpan(offset + IscsiLimits.BhsLength, IscsiLimits.DigestLength), Crc32C.Compute(bhs.Bytes));
        }
    }
}
