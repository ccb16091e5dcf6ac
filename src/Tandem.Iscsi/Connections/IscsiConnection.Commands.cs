using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Sessions;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// SCSI Command and SCSI Data-Out PDUs (RFC 7143 §11.3, §11.7): a task per command, immediate and
/// unsolicited data up to FirstBurstLength, R2Ts for the rest (MaxBurstLength each, up to
/// MaxOutstandingR2T at once), and data read straight into the task's buffer.
/// </summary>
internal sealed partial class IscsiConnection
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnScsiCommandAsync()
    {
        IscsiSession session = _session!;
        var bhs = new Bhs(_header);
        int dataLength = bhs.DataSegmentLength;
        byte flags = bhs.Flags;
        bool final = (flags & BhsFlags.Final) != 0;
        bool read = (flags & BhsFlags.Read) != 0;
        bool write = (flags & BhsFlags.Write) != 0;
        uint expectedLength = bhs.ExpectedDataTransferLength;
        uint itt = bhs.InitiatorTaskTag;
        uint cmdSN = bhs.CmdSN;
        bool immediate = bhs.Immediate;
        ulong lunField = bhs.Lun;
        int ahsLength = bhs.TotalAhsLength;

        if (session.IsDiscovery)
        {
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            SendReject(RejectReason.ProtocolError); // no SCSI in a discovery session (RFC 7143 §4.3)
            return;
        }

        CmdSnVerdict verdict = session.CheckCmdSN(cmdSN, immediate);
        if (verdict == CmdSnVerdict.Drop)
        {
            _logger.LogDebug("{Remote}: SCSI command with CmdSN {CmdSN} outside the window, ignored", RemoteEndPoint, cmdSN);
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            return;
        }
        bool counted = verdict == CmdSnVerdict.Sequenced;

        RejectReason? invalid = null;
        ReadOnlySpan<byte> extendedCdb = default;
        int? bidirectionalReadLength = null;
        if (itt == IscsiLimits.ReservedTag)
            invalid = RejectReason.InvalidPduField;
        else if (!AdditionalHeaders.TryParse(_header.AsSpan(IscsiLimits.BhsLength, ahsLength), out extendedCdb, out bidirectionalReadLength)
                 || 16 + extendedCdb.Length > ScsiCommand.MaxCdbLength)
            invalid = RejectReason.InvalidPduField;
        else if (dataLength > 0 && (!write || !_parameters.ImmediateData || dataLength > expectedLength || dataLength > _parameters.FirstBurstLength))
            invalid = RejectReason.ProtocolError; // RFC 7143 §11.3.4: immediate data only for writes, within the first burst
        else if (expectedLength > int.MaxValue)
            invalid = RejectReason.InvalidPduField;
        if (invalid is RejectReason reason)
        {
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            if (counted)
                session.ReleaseWindowSlot();
            SendReject(reason);
            return;
        }

        ScsiTask task = session.RentSlot();
        ScsiCommand command = task.Command;
        task.InitiatorTaskTag = itt;
        task.CmdSN = cmdSN;
        task.Immediate = immediate;
        task.CountsInWindow = counted;
        task.LunField = lunField;
        task.Lun = LunEncoding.Decode(lunField);
        task.Attribute = (TaskAttribute)(flags & BhsFlags.AttributeMask);
        task.ReadFlag = read;
        task.WriteFlag = write;
        command.Nexus = session.Nexus!;
        command.Lun = task.Lun;
        command.InitiatorTaskTag = itt;
        command.Attribute = task.Attribute;
        command.IsRead = read;
        command.IsWrite = write;
        command.ExpectedTransferLength = (int)expectedLength;
        Span<byte> cdb = stackalloc byte[ScsiCommand.MaxCdbLength];
        _header.AsSpan(32, 16).CopyTo(cdb);
        extendedCdb.CopyTo(cdb[16..]);
        command.SetCdb(cdb[..(16 + extendedCdb.Length)]);

        int writeLength = write ? (int)expectedLength : 0;
        int readLength = read ? (write ? bidirectionalReadLength ?? 0 : (int)expectedLength) : 0;
        if ((long)writeLength + readLength > IscsiLimits.MaxCommandDataLength)
            FailTask(task, ScsiStatus.CheckCondition, SenseCodes.InvalidFieldInCdb);
        else if (!session.TryReserveBuffer((long)writeLength + readLength))
            FailTask(task, ScsiStatus.TaskSetFull);
        else
            task.RentBuffer(writeLength, readLength);
        if (!task.FailedByTransport)
        {
            command.DataIn = task.ReadBuffer;
            command.DataOut = ReadOnlyMemory<byte>.Empty;
        }

        if (!session.TryRegister(task, out bool duplicateTag))
        {
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            if (duplicateTag)
            {
                task.Release();
                if (counted)
                    session.ReleaseWindowSlot();
                SendReject(RejectReason.TaskInProgress);
                return;
            }
            // Task set full (or the session is closing): answer TASK SET FULL without a task.
            task.Release();
            if (counted)
                session.ReleaseWindowSlot();
            SendStatusOnly(itt, ScsiStatus.TaskSetFull);
            return;
        }

        if (task.FailedByTransport)
        {
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            task.UnsolicitedPhase = write && !final && !_parameters.InitialR2T;
            session.CompleteWithoutExecution(task);
            return;
        }

        if (dataLength > 0)
        {
            task.AddReference(); // keeps the buffer while we read into it, even if a reset aborts the task
            try
            {
                await ReadDataAsync(task.Buffer.AsMemory(0, dataLength)).ConfigureAwait(false);
            }
            finally
            {
                task.Release();
            }
        }

        if (!write)
        {
            session.MarkDataComplete(task, _receiveBatch.Deferred);
            return;
        }

        task.ImmediateLength = dataLength;
        task.BytesReceived = dataLength;
        task.NextR2TOffset = dataLength;
        if (!final && !_parameters.InitialR2T && dataLength < writeLength)
        {
            task.UnsolicitedPhase = true;
            task.UnsolicitedLimit = Math.Min(_parameters.FirstBurstLength, writeLength);
            if (task.BytesReceived >= task.UnsolicitedLimit)
                task.UnsolicitedPhase = false;
        }
        ContinueDataOut(task);
    }

    /// <summary>Issues R2Ts the task may have outstanding; marks it data-complete when everything is in.</summary>
    private void ContinueDataOut(ScsiTask task)
    {
        if (task.Aborted)
            return;
        if (!task.UnsolicitedPhase)
        {
            int limit = Math.Min(_parameters.MaxOutstandingR2T, IscsiLimits.TargetMaxOutstandingR2T);
            while (task.OutstandingR2Ts < limit && task.NextR2TOffset < task.WriteLength)
            {
                int length = Math.Min(_parameters.MaxBurstLength, task.WriteLength - task.NextR2TOffset);
                int slot = Array.FindIndex(task.R2Ts, r => r.Length == 0);
                uint ttt = _session!.NextTargetTransferTag();
                task.R2Ts[slot] = new R2TState { TargetTransferTag = ttt, Offset = task.NextR2TOffset, Length = length };
                var request = new R2TRequest(task.LunField, task.InitiatorTaskTag, ttt, task.NextR2TSN++, task.NextR2TOffset, length);
                task.NextR2TOffset += length;
                task.OutstandingR2Ts++;
                task.R2TCount++;
                Sender.Enqueue(request);
            }
        }
        if (!task.NeedsMoreData)
        {
            task.Command.DataOut = task.Buffer.AsMemory(0, task.BytesReceived);
            _session!.MarkDataComplete(task, _receiveBatch.Deferred);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnDataOutAsync()
    {
        IscsiSession session = _session!;
        var bhs = new Bhs(_header);
        int dataLength = bhs.DataSegmentLength;
        bool final = bhs.Final;
        uint itt = bhs.InitiatorTaskTag;
        uint ttt = bhs.TargetTransferTag;
        uint dataSN = bhs.DataSN;
        uint offset = bhs.BufferOffset;

        if (session.IsDiscovery)
        {
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            SendReject(RejectReason.ProtocolError);
            return;
        }

        int slot = -1;
        ScsiTask? task = session.AcquireForDataOut(itt, out bool endedEarly);
        if (task is null)
        {
            await SkipDataAsync(dataLength).ConfigureAwait(false);
            if (!endedEarly)
                SendReject(RejectReason.InvalidPduField); // Data-Out for a task we do not know
            return;
        }

        try
        {
            DataOutError error = ttt == IscsiLimits.ReservedTag
                ? CheckUnsolicitedDataOut(task, dataSN, offset, dataLength)
                : CheckSolicitedDataOut(task, ttt, dataSN, offset, dataLength, final, out slot);
            if (error != DataOutError.None)
            {
                await SkipDataAsync(dataLength).ConfigureAwait(false);
                if (error == DataOutError.UnknownTransferTag)
                {
                    SendReject(RejectReason.InvalidPduField);
                    return;
                }
                // ErrorRecoveryLevel 0 has no recovery within a command: the command ends with
                // CHECK CONDITION (ABORTED COMMAND) and the rest of its Data-Out is discarded.
                _logger.LogDebug("{Remote}: Data-Out error {Error} for ITT {Itt:x8} (DataSN {DataSN}, offset {Offset}, {Length} bytes)",
                    RemoteEndPoint, error, itt, dataSN, offset, dataLength);
                SenseCode sense = error switch
                {
                    DataOutError.UnexpectedUnsolicitedData => SenseCodes.UnexpectedUnsolicitedData,
                    DataOutError.TooMuchData => SenseCodes.TooMuchWriteData,
                    DataOutError.BadOffset => SenseCodes.InvalidDataOutBufferOffset,
                    _ => SenseCodes.DataPhaseError,
                };
                FailTask(task, ScsiStatus.CheckCondition, sense);
                session.CompleteWithoutExecution(task);
                return;
            }

            await ReadDataAsync(task.Buffer.AsMemory((int)offset, dataLength)).ConfigureAwait(false);
            task.BytesReceived += dataLength;
            if (ttt == IscsiLimits.ReservedTag)
            {
                task.NextUnsolicitedDataSN++;
                if (final || task.BytesReceived >= task.UnsolicitedLimit)
                {
                    task.UnsolicitedPhase = false;
                    task.NextR2TOffset = Math.Max(task.NextR2TOffset, task.BytesReceived);
                }
            }
            else
            {
                R2TState r2t = task.R2Ts[slot];
                r2t.Received += dataLength;
                r2t.NextDataSN++;
                if (r2t.Received == r2t.Length)
                {
                    task.R2Ts[slot] = default;
                    task.OutstandingR2Ts--;
                }
                else
                {
                    task.R2Ts[slot] = r2t;
                }
            }
            ContinueDataOut(task);
        }
        finally
        {
            task.Release();
        }
    }

    private enum DataOutError
    {
        None,
        UnknownTransferTag,
        UnexpectedUnsolicitedData,
        DataSequence,
        BadOffset,
        TooMuchData,
    }

    /// <summary>RFC 7143 §11.7: unsolicited Data-Out comes in order, within FirstBurstLength.</summary>
    private static DataOutError CheckUnsolicitedDataOut(ScsiTask task, uint dataSN, uint offset, int dataLength)
    {
        if (!task.UnsolicitedPhase)
            return DataOutError.UnexpectedUnsolicitedData;
        if (dataSN != task.NextUnsolicitedDataSN)
            return DataOutError.DataSequence;
        if (offset != (uint)task.BytesReceived)
            return DataOutError.BadOffset;
        if (offset + (uint)dataLength > (uint)task.UnsolicitedLimit)
            return DataOutError.TooMuchData;
        return DataOutError.None;
    }

    /// <summary>RFC 7143 §11.7/§11.8: solicited Data-Out answers an outstanding R2T, in order, and fills it exactly.</summary>
    private static DataOutError CheckSolicitedDataOut(ScsiTask task, uint ttt, uint dataSN, uint offset, int dataLength, bool final, out int slot)
    {
        slot = -1;
        for (int i = 0; i < task.R2Ts.Length; i++)
        {
            if (task.R2Ts[i].Length != 0 && task.R2Ts[i].TargetTransferTag == ttt) { slot = i; break; }
        }
        if (slot < 0)
            return DataOutError.UnknownTransferTag;
        R2TState r2t = task.R2Ts[slot];
        if (dataSN != r2t.NextDataSN)
            return DataOutError.DataSequence;
        if (offset != (uint)(r2t.Offset + r2t.Received))
            return DataOutError.BadOffset;
        if (r2t.Received + dataLength > r2t.Length)
            return DataOutError.TooMuchData;
        if (final && r2t.Received + dataLength != r2t.Length)
            return DataOutError.DataSequence; // F bit before the burst is complete
        return DataOutError.None;
    }

    /// <summary>Marks a task as failed by the transport with the given status and optional sense.</summary>
    private static void FailTask(ScsiTask task, ScsiStatus status, SenseCode? sense = null)
    {
        task.FailedByTransport = true;
        ScsiCommand command = task.Command;
        command.Status = status;
        command.TransferLength = command.ExpectedTransferLength;
        if (sense is SenseCode code)
            command.SetSenseLength(SenseData.WriteFixed(command.SenseBuffer, code));
    }

    /// <summary>A SCSI Response for a command that never got a task (task set full).</summary>
    private void SendStatusOnly(uint itt, ScsiStatus status)
    {
        ControlPdu pdu = NewControl(Opcode.ScsiResponse);
        var bhs = new Bhs(pdu.Header);
        bhs.Byte3 = (byte)status;
        bhs.InitiatorTaskTag = itt;
        Sender.Enqueue(pdu);
    }
}
