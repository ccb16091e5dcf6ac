using Microsoft.Extensions.Logging;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Sessions;
using Tandem.Scsi.Transport;

namespace Tandem.Iscsi.Connections;

/// <summary>The login phase (RFC 7143 §6): Login Requests until full feature phase or failure.</summary>
internal sealed partial class IscsiConnection
{
    private async Task<bool> LoginPhaseAsync()
    {
        var negotiator = new LoginNegotiator(_server.Catalog, _server.Challenges, RemoteAddress, _server.Options.PortalGroupTag);
        for (int count = 0; ; count++)
        {
            if (!await ReadHeaderAsync().ConfigureAwait(false))
                return false;
            Opcode opcode = (Opcode)(_header[0] & 0x3F);
            if (opcode != Opcode.LoginRequest)
            {
                // RFC 7143 §6: nothing but Login Requests before full feature phase.
                _logger.LogDebug("{Remote}: opcode {Opcode:x2} during login, dropping the connection", RemoteEndPoint, (byte)opcode);
                return false;
            }
            if (count >= IscsiLimits.MaxLoginPdus)
            {
                _logger.LogDebug("{Remote}: login takes too many PDUs", RemoteEndPoint);
                return false;
            }
            LoginRequestHeader request = ParseLoginRequest();
            CheckDataSegmentLength(new Bhs(_header).DataSegmentLength);
            ReadOnlyMemory<byte> data = await ReadControlDataAsync(new Bhs(_header).DataSegmentLength).ConfigureAwait(false);
            if (count == 0)
            {
                _loginCmdSN = request.CmdSN;
                Cid = request.Cid;
            }

            LoginStep step = negotiator.Process(request, data.Span);
            LoginStatus status = step.Status;
            ushort tsih = request.Tsih;
            SessionParameters? parameters = null;
            if (step.EntersFullFeaturePhase)
            {
                (status, IscsiSession? session) = await EstablishSessionAsync(negotiator, request).ConfigureAwait(false);
                if (session is not null)
                {
                    tsih = session.Tsih;
                    parameters = negotiator.Parameters;
                }
            }

            ControlPdu response = BuildLoginResponse(request, step, status, tsih);
            if (status != LoginStatus.Success)
            {
                _logger.LogDebug("{Remote}: login of {Initiator} to {Target} failed: {Status}", RemoteEndPoint, negotiator.InitiatorName, negotiator.TargetName, status);
                response.CloseAfterSend = true;
                response.Sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (Sender.Enqueue(response))
                    await response.Sent.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                return false;
            }

            if (parameters is not null)
            {
                _parameters = parameters;
                response.ApplyParametersAfter = parameters;
                Sender.Enqueue(response);
                // The initiator applies digests from its first full-feature PDU on (RFC 7143 §13.1).
                _headerDigest = parameters.HeaderDigest;
                _dataDigest = parameters.DataDigest;
                _logger.LogDebug("{Remote}: {Initiator} logged in to {Target} (TSIH {Tsih}, {Kind})", RemoteEndPoint, negotiator.InitiatorName,
                    negotiator.TargetName ?? "-", tsih, negotiator.IsDiscovery ? "discovery" : "normal");
                return true;
            }
            Sender.Enqueue(response);
        }
    }

    private LoginRequestHeader ParseLoginRequest()
    {
        var bhs = new Bhs(_header);
        return new LoginRequestHeader(bhs.Flags, bhs.Byte2, bhs.Byte3, bhs.Isid, bhs.Tsih, bhs.Cid, bhs.InitiatorTaskTag, bhs.CmdSN, bhs.ExpStatSN);
    }

    private ControlPdu BuildLoginResponse(in LoginRequestHeader request, LoginStep step, LoginStatus status, ushort tsih)
    {
        ControlPdu pdu = NewControl(Opcode.LoginResponse, 0);
        var bhs = new Bhs(pdu.Header);
        byte flags = (byte)((byte)step.CurrentStage << 2);
        if (status == LoginStatus.Success && step.Transit)
            flags |= (byte)(BhsFlags.Transit | (byte)step.NextStage);
        bhs.Flags = flags;
        bhs.Byte2 = 0; // Version-max
        bhs.Byte3 = 0; // Version-active
        bhs.Isid = request.Isid;
        bhs.Tsih = status == LoginStatus.Success ? tsih : request.Tsih;
        bhs.InitiatorTaskTag = request.InitiatorTaskTag;
        pdu.Header[36] = (byte)((ushort)status >> 8);
        pdu.Header[37] = (byte)status;
        if (status == LoginStatus.Success && step.Text.Length > 0)
        {
            pdu.Data = step.Text;
            pdu.DataLength = step.Text.Length;
        }
        pdu.StatSn = StatSnUse.Advance;
        return pdu;
    }

    /// <summary>
    /// Creates the session at the Login Final-Response: a new session (reinstating an older one of the same
    /// initiator port, RFC 7143 §6.3.5), or a new connection for an existing session (TSIH ≠ 0).
    /// </summary>
    private async Task<(LoginStatus, IscsiSession?)> EstablishSessionAsync(LoginNegotiator login, LoginRequestHeader request)
    {
        string initiator = login.InitiatorName!;
        SessionRegistry registry = _server.Registry;
        IscsiServerOptions options = _server.Options;

        if (login.IsDiscovery)
        {
            IscsiSession? discovery = registry.TryAdd(
                tsih => new IscsiSession(tsih, initiator, login.Isid, null, null, login.Parameters, request.CmdSN, _logger), options.MaxSessions);
            if (discovery is null)
                return (LoginStatus.OutOfResources, null);
            discovery.Connection = this;
            discovery.Ended = registry.Remove;
            _session = discovery;
            return (LoginStatus.Success, discovery);
        }

        var target = login.Target!;
        if (request.Tsih != 0)
        {
            IscsiSession? existing = registry.FindByTsih(request.Tsih);
            if (existing is null || existing.IsClosed || existing.Isid != login.Isid
                || !string.Equals(existing.InitiatorName, initiator, StringComparison.OrdinalIgnoreCase)
                || !ReferenceEquals(existing.Target, target))
                return (LoginStatus.SessionDoesNotExist, null);
            // Connection reinstatement (RFC 7143 §6.3.4): at ErrorRecoveryLevel 0 the old connection's tasks end.
            IscsiConnection? old = existing.Connection;
            existing.Connection = this;
            old?.Abort();
            try { await existing.AbortTasks(_ => true, out _).WaitAsync(IscsiLimits.TaskDrainTimeout).ConfigureAwait(false); }
            catch (TimeoutException) { _logger.LogWarning("session {Tsih}: tasks of the replaced connection still running", existing.Tsih); }
            existing.ResetCommandWindow(request.CmdSN);
            _session = existing;
            return (LoginStatus.Success, existing);
        }

        IscsiSession? previous = registry.FindByInitiatorPort(initiator, login.Isid, target.Name);
        if (previous is not null)
        {
            _logger.LogInformation("{Remote}: reinstating session {Tsih} of {Initiator}", RemoteEndPoint, previous.Tsih, initiator);
            previous.Connection?.Abort();
            await previous.TerminateAsync().ConfigureAwait(false);
        }

        var nexus = new ITNexus(initiator, login.Isid, target.Name, options.PortalGroupTag,
            target.TargetPort?.RelativeTargetPortId ?? options.RelativeTargetPortId, target.TargetPort?.TargetPortGroupId ?? options.TargetPortGroupId);
        IscsiSession? session = registry.TryAdd(
            tsih => new IscsiSession(tsih, initiator, login.Isid, target, nexus, login.Parameters, request.CmdSN, _logger), options.MaxSessions);
        if (session is null)
            return (LoginStatus.OutOfResources, null);
        session.Connection = this;
        session.Ended = registry.Remove;
        _session = session;
        try
        {
            target.Scsi.NexusCreated(nexus);
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "NexusCreated failed for {Nexus}", nexus.InitiatorPortName);
        }
        _logger.LogInformation("session {Tsih}: {Initiator} logged in to {Target} from {Remote}", session.Tsih, nexus.InitiatorPortName, target.Name, RemoteEndPoint);
        return (LoginStatus.Success, session);
    }
}
