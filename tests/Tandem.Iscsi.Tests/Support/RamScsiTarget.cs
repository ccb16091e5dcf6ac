using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Tandem.Scsi.Transport;

namespace Tandem.Iscsi.Tests.Support;

/// <summary>
/// The one fake of this test project: a tiny RAM-backed SCSI target answering just enough
/// (INQUIRY, TUR, READ CAPACITY, REPORT LUNS, READ/WRITE 6/10/12/16, MODE SENSE) for the transport
/// to be exercised by our test initiator and by libiscsi's tools. It records nexus and reset events
/// and can hold commands at a gate so aborts and resets meet running tasks.
/// </summary>
public sealed class RamScsiTarget : IScsiTarget
{
    public const int BlockSize = 512;
    private readonly byte[] _data;
    private readonly Lock _sync = new();

    public RamScsiTarget(long sizeBytes = 32L * 1024 * 1024)
    {
        _data = new byte[sizeBytes];
    }

    public long BlockCount => _data.Length / BlockSize;
    public IReadOnlyCollection<ulong> Luns { get; } = [0UL];
    public ConcurrentQueue<string> Events { get; } = new();
    public int Executed;

    /// <summary>When set, WRITE commands wait here (honouring abort) before they run.</summary>
    public TaskCompletionSource? WriteGate { get; set; }

    /// <summary>Signalled when a command reaches <see cref="WriteGate"/>.</summary>
    public TaskCompletionSource? ReachedGate { get; set; }

    public Span<byte> Blocks(long lba, int count) => _data.AsSpan((int)(lba * BlockSize), count * BlockSize);

    public void NexusCreated(ITNexus nexus) => Events.Enqueue($"created {nexus.InitiatorPortName}");
    public void NexusLost(ITNexus nexus) => Events.Enqueue($"lost {nexus.InitiatorPortName}");
    public ValueTask LogicalUnitResetAsync(ulong lun, ITNexus requester)
    {
        Events.Enqueue($"lu-reset {lun}");
        return ValueTask.CompletedTask;
    }

    public ValueTask TargetResetAsync(ITNexus requester)
    {
        Events.Enqueue("target-reset");
        return ValueTask.CompletedTask;
    }
    public void TasksClearedByAnotherInitiator(ulong lun, ITNexus requester, ITNexus victim) => Events.Enqueue($"cleared {victim.InitiatorPortName}");

    public async ValueTask ExecuteAsync(ScsiCommand command, CancellationToken abort = default)
    {
        Interlocked.Increment(ref Executed);
        ReadOnlySpan<byte> cdb = command.Cdb;
        byte opcode = cdb[0];
        if (IsWrite(opcode) && WriteGate is TaskCompletionSource gate)
        {
            ReachedGate?.TrySetResult();
            await gate.Task.WaitAsync(abort).ConfigureAwait(false);
        }
        Execute(command);
    }

    private static bool IsWrite(byte opcode) => opcode is 0x0A or 0x2A or 0xAA or 0x8A or 0x2E or 0xAE or 0x8E;

    private void Execute(ScsiCommand command)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        command.Status = ScsiStatus.Good;
        if (command.Lun != 0 && cdb[0] is not (0x12 or 0xA0))
        {
            CheckCondition(command, 0x05, 0x25, 0x00); // LOGICAL UNIT NOT SUPPORTED
            return;
        }
        switch (cdb[0])
        {
            case 0x00: // TEST UNIT READY
            case 0x35: // SYNCHRONIZE CACHE 10
            case 0x91: // SYNCHRONIZE CACHE 16
                break;
            case 0x03: // REQUEST SENSE
                Reply(command, new byte[18] { 0x70, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, cdb[4]);
                break;
            case 0x12:
                Inquiry(command, cdb);
                break;
            case 0xA0: // REPORT LUNS
                {
                    var reply = new byte[16];
                    BinaryPrimitives.WriteUInt32BigEndian(reply, 8);
                    Reply(command, reply, (int)BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]));
                    break;
                }
            case 0x25: // READ CAPACITY 10
                {
                    var reply = new byte[8];
                    BinaryPrimitives.WriteUInt32BigEndian(reply, (uint)(BlockCount - 1));
                    BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(4), BlockSize);
                    Reply(command, reply, 8);
                    break;
                }
            case 0x9E when (cdb[1] & 0x1F) == 0x10: // READ CAPACITY 16
                {
                    var reply = new byte[32];
                    BinaryPrimitives.WriteUInt64BigEndian(reply, (ulong)(BlockCount - 1));
                    BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), BlockSize);
                    Reply(command, reply, (int)BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]));
                    break;
                }
            case 0x1A: // MODE SENSE 6
                Reply(command, [3, 0, 0, 0], cdb[4]);
                break;
            case 0x5A: // MODE SENSE 10
                Reply(command, [0, 6, 0, 0, 0, 0, 0, 0], BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]));
                break;
            case 0x08: ReadWrite(command, (long)(BinaryPrimitives.ReadUInt32BigEndian(cdb) & 0x1FFFFF), cdb[4] == 0 ? 256 : cdb[4], write: false); break;
            case 0x0A: ReadWrite(command, (long)(BinaryPrimitives.ReadUInt32BigEndian(cdb) & 0x1FFFFF), cdb[4] == 0 ? 256 : cdb[4], write: true); break;
            case 0x28: ReadWrite(command, BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]), write: false); break;
            case 0x2A or 0x2E: ReadWrite(command, BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]), write: true); break;
            case 0xA8: ReadWrite(command, BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]), write: false); break;
            case 0xAA or 0xAE: ReadWrite(command, BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]), write: true); break;
            case 0x88: ReadWrite(command, (long)BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]), write: false); break;
            case 0x8A or 0x8E: ReadWrite(command, (long)BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]), write: true); break;
            default:
                CheckCondition(command, 0x05, 0x20, 0x00); // INVALID COMMAND OPERATION CODE
                break;
        }
    }

    private void Inquiry(ScsiCommand command, ReadOnlySpan<byte> cdb)
    {
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        bool lunMissing = command.Lun != 0;
        if ((cdb[1] & 1) == 0)
        {
            var std = new byte[36];
            std[0] = lunMissing ? (byte)0x7F : (byte)0x00;
            std[2] = 0x06; // SPC-4
            std[3] = 0x02;
            std[4] = 31;
            std[7] = 0x02; // CMDQUE
            Encoding.ASCII.GetBytes("TANDEM  FAKE RAM TARGET 0001").CopyTo(std, 8);
            Reply(command, std, allocation);
            return;
        }
        switch (cdb[2])
        {
            case 0x00:
                Reply(command, [0, 0x00, 0, 3, 0x00, 0x80, 0x83], allocation);
                break;
            case 0x80:
                Reply(command, [0, 0x80, 0, 4, (byte)'F', (byte)'A', (byte)'K', (byte)'E'], allocation);
                break;
            case 0x83:
                Reply(command, [0, 0x83, 0, 12, 0x01, 0x03, 0, 8, 0x60, 0, 0, 0, 0, 0, 0, 1], allocation);
                break;
            default:
                CheckCondition(command, 0x05, 0x24, 0x00);
                break;
        }
    }

    private void ReadWrite(ScsiCommand command, long lba, long blocks, bool write)
    {
        long bytes = blocks * BlockSize;
        command.TransferLength = (int)Math.Min(bytes, int.MaxValue);
        if (lba < 0 || blocks < 0 || blocks > BlockCount || lba > BlockCount - blocks)
        {
            CheckCondition(command, 0x05, 0x21, 0x00); // LBA OUT OF RANGE
            return;
        }
        lock (_sync)
        {
            if (write)
            {
                // Only what arrived, in whole blocks (the transport may deliver less than the CDB asks).
                int whole = (int)Math.Min(command.DataOut.Length / BlockSize, blocks);
                command.DataOut.Span[..(whole * BlockSize)].CopyTo(Blocks(lba, whole));
            }
            else
            {
                int room = (int)Math.Min(command.DataIn.Length, bytes);
                _data.AsSpan((int)(lba * BlockSize), room).CopyTo(command.DataIn.Span);
            }
        }
    }

    private static void Reply(ScsiCommand command, ReadOnlySpan<byte> data, int allocationLength)
    {
        int length = Math.Min(data.Length, allocationLength);
        command.TransferLength = length;
        int room = Math.Min(length, command.DataIn.Length);
        data[..room].CopyTo(command.DataIn.Span);
    }

    private static void CheckCondition(ScsiCommand command, byte key, byte asc, byte ascq)
    {
        command.Status = ScsiStatus.CheckCondition;
        Span<byte> sense = command.SenseBuffer;
        sense[..18].Clear();
        sense[0] = 0x70;
        sense[2] = key;
        sense[7] = 10;
        sense[12] = asc;
        sense[13] = ascq;
        command.SetSenseLength(18);
    }
}
