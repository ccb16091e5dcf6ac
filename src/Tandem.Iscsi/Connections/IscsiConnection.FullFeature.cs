using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Discovery;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Sessions;
using Tandem.Iscsi.TaskManagement;
using Tandem.Iscsi.Text;

namespace Tandem.Iscsi.Connections;

/// <summary>Full feature phase: the PDU dispatch, NOP-Out, Text (SendTargets) and Logout.</summary>
internal sealed partial class IscsiConnection
{
    private byte[]? _textRemainder;
    private uint _textContinuationTag = IscsiLimits.ReservedTag;

    private async Task FullFeaturePhaseAsync()
    {
        while (await ReadHeaderAsync().ConfigureAwait(false))
        {
            int dataLength = new Bhs(_header).DataSegmentLength;
            CheckDataSegmentLength(dataLength);
            var opcode = (Opcode)(_header[0] & 0x3F);
            // SCSI commands and their data wait for nothing but the socket (through the reader,
            // which ends the batch first), so their responses may gather; every other request
            // may wait for a send (logout) or for other tasks, so the batch ends before it.
            if (opcode is Opcode.ScsiCommand or Opcode.ScsiDataOut)
                _receiveBatch.Engage();
            else
                _receiveBatch.End();
            switch (opcode)
            {
                case Opcode.ScsiCommand:
                    await OnScsiCommandAsync().ConfigureAwait(false);
                    break;
                case Opcode.ScsiDataOut:
                    await OnDataOutAsync().ConfigureAwait(false);
                    break;
                case Opcode.NopOut:
                    await OnNopOutAsync().ConfigureAwait(false);
                    break;
                case Opcode.TaskManagementRequest:
                    await OnTaskManagementAsync().ConfigureAwait(false);
                    break;
                case Opcode.TextRequest:
                    await OnTextRequestAsync().ConfigureAwait(false);
                    break;
                case Opcode.LogoutRequest:
                    if (await OnLogoutAsync().ConfigureAwait(false))
                        return;
                    break;
                case Opcode.Snack:
                    // ErrorRecoveryLevel 0 has no SNACK (RFC 7143 §11.16).
                    await SkipDataAsync(dataLength).ConfigureAwait(false);
                    SendReject(RejectReason.ProtocolError);
                    break;
                case Opcode.LoginRequest:
                    await SkipDataAsync(dataLength).ConfigureAwait(false);
                    SendReject(RejectReason.ProtocolError);
                    break;
                default:
                    await SkipDataAsync(dataLength).ConfigureAwait(false);
                    SendReject(RejectReason.CommandNotSupported);
                    break;
            }
        }
    }

    private async ValueTask OnNopOutAsync()
    {
        var bhs = new Bhs(_header);
        uint itt = bhs.InitiatorTaskTag;
        uint ttt = bhs.TargetTransferTag;
        ulong lun = bhs.Lun;
        uint cmdSN = bhs.CmdSN;
        bool immediate = bhs.Immediate;
        ReadOnlyMemory<byte> data = await ReadControlDataAsync(bhs.DataSegmentLength).ConfigureAwait(false);

        if (itt == IscsiLimits.ReservedTag)
        {
            // The answer to our NOP-In ping (RFC 7143 §11.18.2); it gets no response.
            if (ttt == _pingTag)
                _pingOutstanding = false;
            return;
        }
        CmdSnVerdict verdict = _session!.CheckCmdSN(cmdSN, immediate);
        if (verdict == CmdSnVerdict.Drop)
            return;
        if (verdict == CmdSnVerdict.Sequenced)
            _session.ReleaseWindowSlot();

        ControlPdu pong = NewControl(Opcode.NopIn);
        var rsp = new Bhs(pong.Header);
        rsp.Lun = lun;
        rsp.InitiatorTaskTag = itt;
        rsp.TargetTransferTag = IscsiLimits.ReservedTag;
        int echo = Math.Min(data.Length, _parameters.InitiatorMaxRecvDataSegmentLength);
        if (echo > 0)
        {
            pong.Data = data[..echo].ToArray();
            pong.DataLength = echo;
        }
        Sender.Enqueue(pong);
    }

    private async ValueTask OnTaskManagementAsync()
    {
        var bhs = new Bhs(_header);
        var request = new TaskManagementRequest(
            (TaskManagementFunction)(bhs.Flags & 0x7F), bhs.Lun, bhs.InitiatorTaskTag, bhs.Word20, bhs.Word32);
        uint cmdSN = bhs.CmdSN;
        bool immediate = bhs.Immediate;
        await SkipDataAsync(bhs.DataSegmentLength).ConfigureAwait(false);
        IscsiSession session = _session!;
        if (session.IsDiscovery)
        {
            SendReject(RejectReason.ProtocolError);
            return;
        }
        CmdSnVerdict verdict = session.CheckCmdSN(cmdSN, immediate);
        if (verdict == CmdSnVerdict.Drop)
            return;
        // Runs beside the receive loop: an abort may wait for a task that waits for our Data-Out.
        _ = RunTaskManagementAsync(session, request, verdict == CmdSnVerdict.Sequenced);
    }

    private async Task RunTaskManagementAsync(IscsiSession session, TaskManagementRequest request, bool counted)
    {
        try
        {
            TaskManagementResponse response = await TaskManagementHandler.ExecuteAsync(_server, session, request, _logger).ConfigureAwait(false);
            if (counted)
                session.ReleaseWindowSlot();
            ControlPdu pdu = NewControl(Opcode.TaskManagementResponse);
            var bhs = new Bhs(pdu.Header);
            bhs.Byte2 = (byte)response;
            bhs.InitiatorTaskTag = request.InitiatorTaskTag;
            bool coldReset = request.Function == TaskManagementFunction.TargetColdReset && response == TaskManagementResponse.FunctionComplete;
            if (coldReset)
                pdu.Sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Sender.Enqueue(pdu);
            if (coldReset)
            {
                // RFC 7143 §11.5.1: after the response, a cold reset drops every connection of the target.
                await pdu.Sent!.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                _server.CloseSessions(session.Target!.Name);
            }
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "{Remote}: task management function {Function} failed", RemoteEndPoint, request.Function);
            Abort();
        }
    }

    private async ValueTask OnTextRequestAsync()
    {
        var bhs = new Bhs(_header);
        uint itt = bhs.InitiatorTaskTag;
        uint ttt = bhs.TargetTransferTag;
        ulong lun = bhs.Lun;
        uint cmdSN = bhs.CmdSN;
        bool immediate = bhs.Immediate;
        bool more = (bhs.Flags & BhsFlags.Continue) != 0;
        ReadOnlyMemory<byte> data = await ReadControlDataAsync(bhs.DataSegmentLength).ConfigureAwait(false);

        IscsiSession session = _session!;
        CmdSnVerdict verdict = session.CheckCmdSN(cmdSN, immediate);
        if (verdict == CmdSnVerdict.Drop)
            return;
        if (verdict == CmdSnVerdict.Sequenced)
            session.ReleaseWindowSlot();

        byte[] answer;
        if (ttt != IscsiLimits.ReservedTag)
        {
            // The initiator asks for the next part of a long answer (RFC 7143 §11.10.4).
            if (ttt != _textContinuationTag || _textRemainder is null)
            {
                SendReject(RejectReason.InvalidPduField);
                return;
            }
            answer = _textRemainder;
        }
        else if (more)
        {
            // Text split by the initiator is not something any real initiator does with SendTargets.
            SendReject(RejectReason.CommandNotSupported);
            return;
        }
        else
        {
            List<KeyValuePair<string, string>> pairs;
            try
            {
                pairs = TextParameters.Parse(data.Span);
            }
            catch (FormatException ex)
            {
                _logger.LogDebug("{Remote}: malformed text request: {Message}", RemoteEndPoint, ex.Message);
                SendReject(RejectReason.ProtocolError);
                return;
            }
            answer = TextParameters.Serialize(AnswerTextKeys(pairs));
        }

        int max = _parameters.InitiatorMaxRecvDataSegmentLength;
        bool final = answer.Length <= max;
        ControlPdu pdu = NewControl(Opcode.TextResponse, final ? BhsFlags.Final : BhsFlags.Continue);
        var rsp = new Bhs(pdu.Header);
        rsp.Lun = lun;
        rsp.InitiatorTaskTag = itt;
        if (final)
        {
            rsp.TargetTransferTag = IscsiLimits.ReservedTag;
            _textRemainder = null;
            _textContinuationTag = IscsiLimits.ReservedTag;
            pdu.Data = answer;
            pdu.DataLength = answer.Length;
        }
        else
        {
            _textContinuationTag = session.NextTargetTransferTag();
            rsp.TargetTransferTag = _textContinuationTag;
            pdu.Data = answer[..max];
            pdu.DataLength = max;
            _textRemainder = answer[max..];
        }
        Sender.Enqueue(pdu);
    }

    private List<KeyValuePair<string, string>> AnswerTextKeys(List<KeyValuePair<string, string>> pairs)
    {
        var answers = new List<KeyValuePair<string, string>>();
        IscsiSession session = _session!;
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "SendTargets":
                    answers.AddRange(SendTargetsResponder.Answer(value, _server.Catalog, session.InitiatorName, RemoteAddress,
                        LocalEndPoint, _server.BoundPortals, _server.Options.PortalGroupTag, session.Target?.Name));
                    break;
                case "MaxRecvDataSegmentLength":
                    // Declarative in full feature phase too (RFC 7143 §13.12).
                    if (TextParameters.TryParseNumber(value, out ulong mrdsl) && mrdsl >= IscsiLimits.MinDataSegmentLength && mrdsl <= IscsiLimits.MaxBurstLengthLimit)
                    {
                        _parameters.InitiatorMaxRecvDataSegmentLength = (int)mrdsl;
                        Sender.SetInitiatorMaxRecvDataSegmentLength((int)mrdsl);
                    }
                    else
                    {
                        answers.Add(new(key, TextValues.Reject));
                    }
                    break;
                default:
                    answers.Add(new(key, OperationalKeyNegotiator.LoginOnlyKeys.Contains(key) ? TextValues.Reject : TextValues.NotUnderstood));
                    break;
            }
        }
        return answers;
    }

    /// <summary>Logout (RFC 7143 §11.14). Returns true when the connection ends.</summary>
    private async ValueTask<bool> OnLogoutAsync()
    {
        var bhs = new Bhs(_header);
        var reason = (LogoutReason)(bhs.Flags & 0x7F);
        uint itt = bhs.InitiatorTaskTag;
        ushort cid = bhs.Cid;
        uint cmdSN = bhs.CmdSN;
        bool immediate = bhs.Immediate;
        await SkipDataAsync(bhs.DataSegmentLength).ConfigureAwait(false);

        IscsiSession session = _session!;
        CmdSnVerdict verdict = session.CheckCmdSN(cmdSN, immediate);
        if (verdict == CmdSnVerdict.Drop)
            return false;

        LogoutResponseCode code;
        switch (reason)
        {
            case LogoutReason.CloseSession:
                code = LogoutResponseCode.Success;
                break;
            case LogoutReason.CloseConnection:
                code = cid == Cid ? LogoutResponseCode.Success : LogoutResponseCode.CidNotFound;
                break;
            case LogoutReason.RemoveConnectionForRecovery:
                code = LogoutResponseCode.RecoveryNotSupported; // ErrorRecoveryLevel 0
                break;
            default:
                if (verdict == CmdSnVerdict.Sequenced)
                    session.ReleaseWindowSlot();
                SendReject(RejectReason.InvalidPduField);
                return false;
        }

        // With one connection per session, a successful logout ends the session. End it before
        // answering: once the initiator sees the Logout Response it may act through another
        // session, which must already find this nexus gone (e.g. its RESERVE(6) released).
        if (code == LogoutResponseCode.Success)
            await session.TerminateAsync().ConfigureAwait(false);
        if (verdict == CmdSnVerdict.Sequenced)
            session.ReleaseWindowSlot();

        ControlPdu pdu = NewControl(Opcode.LogoutResponse);
        var rsp = new Bhs(pdu.Header);
        rsp.Byte2 = (byte)code;
        rsp.InitiatorTaskTag = itt;
        // Time2Wait and Time2Retain (bytes 40-43) stay 0: nothing to reconnect to at ErrorRecoveryLevel 0.
        if (code != LogoutResponseCode.Success)
        {
            Sender.Enqueue(pdu);
            return false;
        }
        pdu.CloseAfterSend = true;
        pdu.Sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Sender.Enqueue(pdu))
            await pdu.Sent.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _logger.LogDebug("{Remote}: logout ({Reason})", RemoteEndPoint, reason);
        return true;
    }
}
