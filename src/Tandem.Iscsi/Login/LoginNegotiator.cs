using System.Globalization;
using System.Net;
using Tandem.Iscsi.Discovery;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Targets;
using Tandem.Iscsi.Text;

namespace Tandem.Iscsi.Login;

/// <summary>The fields of a Login Request BHS the negotiation needs (RFC 7143 §11.12).</summary>
internal readonly record struct LoginRequestHeader(
    byte Flags, byte VersionMax, byte VersionMin, ulong Isid, ushort Tsih, ushort Cid, uint InitiatorTaskTag, uint CmdSN, uint ExpStatSN)
{
    public bool Transit => (Flags & BhsFlags.Transit) != 0;
    public bool Continue => (Flags & BhsFlags.Continue) != 0;
    public LoginStage CurrentStage => (LoginStage)((Flags >> 2) & 3);
    public LoginStage NextStage => (LoginStage)(Flags & 3);
}

/// <summary>What to answer to one Login Request.</summary>
internal sealed record LoginStep(LoginStatus Status, bool Transit, LoginStage CurrentStage, LoginStage NextStage, byte[] Text)
{
    public bool Failed => Status != LoginStatus.Success;

    /// <summary>The response moves the connection to full feature phase (the Login Final-Response).</summary>
    public bool EntersFullFeaturePhase => !Failed && Transit && NextStage == LoginStage.FullFeaturePhase;
}

/// <summary>
/// The login phase of one connection (RFC 7143 §6.3, §11.12): stages, security negotiation with CHAP,
/// operational negotiation, and the checks of who may log in where. Feed it each Login Request; it
/// answers each with a <see cref="LoginStep"/>.
/// </summary>
internal sealed class LoginNegotiator
{
    private enum AuthState { None, WaitingForAlgorithm, WaitingForResponse, Done }

    private readonly ITargetCatalog _catalog;
    private readonly ChapChallengeHistory _challenges;
    private readonly IPAddress _remoteAddress;
    private readonly ushort _portalGroupTag;

    private bool _first = true;
    private LoginStage _stage;
    private ulong _isid;
    private ushort _tsih;
    private ushort _cid;
    private readonly List<byte> _pendingText = [];

    private ChapCredentials? _requiredChap;
    private ChapCredentials? _mutualChap;
    private bool _authenticated;
    private AuthState _authState;
    private ChapAlgorithm _chapAlgorithm;
    private byte _chapIdentifier;
    private byte[] _chapChallenge = [];
    private bool _declaredMaxRecvDataSegmentLength;
    private bool _sentTargetAlias;

    public LoginNegotiator(ITargetCatalog catalog, ChapChallengeHistory challenges, IPAddress remoteAddress, ushort portalGroupTag)
    {
        _catalog = catalog;
        _challenges = challenges;
        _remoteAddress = remoteAddress;
        _portalGroupTag = portalGroupTag;
    }

    public string? InitiatorName { get; private set; }
    public string? TargetName { get; private set; }
    public bool IsDiscovery { get; private set; }
    public IscsiTargetDefinition? Target { get; private set; }
    public ulong Isid => _isid;
    public ushort RequestedTsih => _tsih;
    public ushort Cid => _cid;
    public SessionParameters Parameters { get; } = new();

    public LoginStep Process(in LoginRequestHeader request, ReadOnlySpan<byte> data)
    {
        if (request.Transit && request.Continue)
            return Fail(LoginStatus.InitiatorError);
        LoginStage csg = request.CurrentStage;
        if (csg is not (LoginStage.SecurityNegotiation or LoginStage.OperationalNegotiation))
            return Fail(LoginStatus.InitiatorError);
        if (request.Transit && (request.NextStage <= csg || (byte)request.NextStage == 2))
            return Fail(LoginStatus.InitiatorError);

        if (_first)
        {
            if (request.VersionMin > 0)
                return Fail(LoginStatus.UnsupportedVersion);
            _stage = csg;
            _isid = request.Isid;
            _tsih = request.Tsih;
            _cid = request.Cid;
        }
        else if (request.Isid != _isid || request.Tsih != _tsih || request.Cid != _cid || csg != _stage)
        {
            return Fail(LoginStatus.InitiatorError);
        }

        if (_pendingText.Count + data.Length > IscsiLimits.MaxTextLength)
            return Fail(LoginStatus.InitiatorError);
        foreach (byte b in data)
            _pendingText.Add(b);
        if (request.Continue)
            return new LoginStep(LoginStatus.Success, false, _stage, 0, []); // RFC 7143 §6.3: acknowledge, wait for the rest

        List<KeyValuePair<string, string>> pairs;
        try
        {
            pairs = TextParameters.Parse(_pendingText.ToArray());
        }
        catch (FormatException)
        {
            return Fail(LoginStatus.InitiatorError);
        }
        finally
        {
            _pendingText.Clear();
        }

        var answers = new List<KeyValuePair<string, string>>();
        if (_first)
        {
            _first = false;
            LoginStatus status = IdentifyParties(pairs);
            if (status != LoginStatus.Success)
                return Fail(status);
            if (!IsDiscovery)
                answers.Add(new("TargetPortalGroupTag", _portalGroupTag.ToString(CultureInfo.InvariantCulture)));
        }

        bool mayTransit;
        if (_stage == LoginStage.SecurityNegotiation)
        {
            LoginStatus status = NegotiateSecurity(pairs, answers);
            if (status != LoginStatus.Success)
                return Fail(status);
            mayTransit = _authenticated;
        }
        else
        {
            if (!_authenticated)
                return Fail(LoginStatus.AuthenticationFailure); // skipped the security stage although CHAP is required
            NegotiateOperational(pairs, answers);
            mayTransit = true;
        }

        if (request.Transit && mayTransit)
        {
            LoginStage next = request.NextStage;
            if (next == LoginStage.FullFeaturePhase && !IsDiscovery && !_sentTargetAlias && !string.IsNullOrEmpty(Target?.Alias))
            {
                answers.Add(new("TargetAlias", Target!.Alias!));
                _sentTargetAlias = true;
            }
            LoginStage current = _stage;
            _stage = next;
            return new LoginStep(LoginStatus.Success, true, current, next, TextParameters.Serialize(answers));
        }
        return new LoginStep(LoginStatus.Success, false, _stage, 0, TextParameters.Serialize(answers));
    }

    private LoginStep Fail(LoginStatus status) => new(status, false, _stage, 0, []);

    private LoginStatus IdentifyParties(List<KeyValuePair<string, string>> pairs)
    {
        string? sessionType = null;
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "InitiatorName": InitiatorName = value; break;
                case "TargetName": TargetName = value; break;
                case "SessionType": sessionType = value; break;
            }
        }
        if (string.IsNullOrEmpty(InitiatorName))
            return LoginStatus.MissingParameter;
        switch (sessionType)
        {
            case null or "Normal": IsDiscovery = false; break;
            case "Discovery": IsDiscovery = true; break;
            default: return LoginStatus.SessionTypeNotSupported;
        }

        if (IsDiscovery)
        {
            _requiredChap = _catalog.DiscoveryChap;
        }
        else
        {
            if (string.IsNullOrEmpty(TargetName))
                return LoginStatus.MissingParameter;
            if (!_catalog.TryGetTarget(TargetName, out IscsiTargetDefinition target))
                return LoginStatus.TargetNotFound;
            TargetAccessPolicy policy = target.Access;
            if (!TargetAccess.IsAllowed(policy, InitiatorName, _remoteAddress))
                return LoginStatus.AuthorizationFailure;
            Target = target;
            _requiredChap = policy.Chap;
            _mutualChap = policy.Chap is null ? null : policy.MutualChap;
        }
        _authenticated = _requiredChap is null;
        return LoginStatus.Success;
    }

    private LoginStatus NegotiateSecurity(List<KeyValuePair<string, string>> pairs, List<KeyValuePair<string, string>> answers)
    {
        string? chapN = null, chapR = null, chapI = null, chapC = null;
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "AuthMethod":
                    {
                        string[] offered = value.Split(',');
                        string choice = _requiredChap is not null
                            ? (offered.Contains("CHAP") ? "CHAP" : TextValues.Reject)
                            : (offered.Contains(TextValues.None) ? TextValues.None : TextValues.Reject);
                        answers.Add(new(key, choice));
                        if (choice == TextValues.Reject)
                            return LoginStatus.AuthenticationFailure;
                        if (choice == "CHAP")
                            _authState = AuthState.WaitingForAlgorithm;
                        break;
                    }
                case "CHAP_A":
                    {
                        if (_authState != AuthState.WaitingForAlgorithm)
                            return LoginStatus.InitiatorError;
                        ChapAlgorithm? chosen = null;
                        foreach (string candidate in value.Split(','))
                        {
                            if (Chap.TryParseAlgorithm(candidate, out ChapAlgorithm a)) { chosen = a; break; }
                        }
                        if (chosen is null)
                        {
                            answers.Add(new(key, TextValues.Reject));
                            return LoginStatus.AuthenticationFailure;
                        }
                        _chapAlgorithm = chosen.Value;
                        _chapIdentifier = (byte)Random.Shared.Next(256);
                        _chapChallenge = _challenges.NewChallenge(Chap.ChallengeLength(_chapAlgorithm));
                        answers.Add(new("CHAP_A", ((int)_chapAlgorithm).ToString(CultureInfo.InvariantCulture)));
                        answers.Add(new("CHAP_I", _chapIdentifier.ToString(CultureInfo.InvariantCulture)));
                        answers.Add(new("CHAP_C", TextParameters.FormatHex(_chapChallenge)));
                        _authState = AuthState.WaitingForResponse;
                        break;
                    }
                case "CHAP_N": chapN = value; break;
                case "CHAP_R": chapR = value; break;
                case "CHAP_I": chapI = value; break;
                case "CHAP_C": chapC = value; break;
                default:
                    {
                        string? answer = OperationalKeyNegotiator.Answer(key, value, IsDiscovery, Parameters);
                        if (answer is not null)
                            answers.Add(new(key, answer));
                        break;
                    }
            }
        }

        if (chapN is null && chapR is null && chapI is null && chapC is null)
            return LoginStatus.Success;
        if (_authState != AuthState.WaitingForResponse || chapN is null || chapR is null || _requiredChap is null)
            return LoginStatus.InitiatorError;

        if (chapN != _requiredChap.User
            || !TextParameters.TryParseBinary(chapR, out byte[] response)
            || !Chap.Verify(_chapAlgorithm, _chapIdentifier, _requiredChap.Secret, _chapChallenge, response))
            return LoginStatus.AuthenticationFailure;

        if (chapI is not null || chapC is not null)
        {
            // Mutual CHAP: the initiator wants us to prove who we are.
            if (_mutualChap is null || chapI is null || chapC is null)
                return LoginStatus.AuthenticationFailure;
            if (!TextParameters.TryParseNumber(chapI, out ulong id) || id > 255)
                return LoginStatus.AuthenticationFailure;
            if (!TextParameters.TryParseBinary(chapC, out byte[] challenge) || challenge.Length > Chap.MaxChallengeLength)
                return LoginStatus.AuthenticationFailure;
            // RFC 7143 §12.1.3: refuse our own challenge reflected back, and identical secrets both ways.
            if (challenge.AsSpan().SequenceEqual(_chapChallenge) || _challenges.WasIssued(challenge))
                return LoginStatus.AuthenticationFailure;
            if (_mutualChap.Secret == _requiredChap.Secret)
                return LoginStatus.AuthenticationFailure;
            byte[] ours = Chap.ComputeResponse(_chapAlgorithm, (byte)id, _mutualChap.Secret, challenge);
            answers.Add(new("CHAP_N", _mutualChap.User));
            answers.Add(new("CHAP_R", TextParameters.FormatHex(ours)));
        }
        else if (_mutualChap is not null)
        {
            return LoginStatus.AuthenticationFailure; // the target is configured for mutual CHAP
        }

        _authenticated = true;
        _authState = AuthState.Done;
        return LoginStatus.Success;
    }

    private void NegotiateOperational(List<KeyValuePair<string, string>> pairs, List<KeyValuePair<string, string>> answers)
    {
        foreach (var (key, value) in pairs)
        {
            string? answer = key is "AuthMethod" || key.StartsWith("CHAP_", StringComparison.Ordinal)
                ? TextValues.Reject // security keys after the security stage (RFC 7143 §6.3)
                : OperationalKeyNegotiator.Answer(key, value, IsDiscovery, Parameters);
            if (answer is not null)
                answers.Add(new(key, answer));
        }
        if (!_declaredMaxRecvDataSegmentLength)
        {
            answers.Add(new("MaxRecvDataSegmentLength", IscsiLimits.TargetMaxRecvDataSegmentLength.ToString(CultureInfo.InvariantCulture)));
            _declaredMaxRecvDataSegmentLength = true;
        }
    }
}
