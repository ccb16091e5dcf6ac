using Tandem.Iscsi.Text;

namespace Tandem.Iscsi.Login;

/// <summary>
/// Answers the operational keys of RFC 7143 §13 (and the later §13 additions of RFC 7144/7145) as
/// this target's limits allow, recording the outcome in <see cref="SessionParameters"/>.
/// </summary>
internal static class OperationalKeyNegotiator
{
    /// <summary>What the target proposes for each negotiated key.</summary>
    private const int TargetMaxConnections = 1;
    private const int TargetErrorRecoveryLevel = 0;
    private const int TargetDefaultTime2Wait = 2;
    private const int TargetDefaultTime2Retain = 0; // ERL 0: nothing survives a connection loss.
    private const int TargetProtocolLevel = 1; // RFC 7144: 1 = RFC 7143.

    /// <summary>Keys RFC 7143 §13 calls irrelevant in a discovery session.</summary>
    private static readonly HashSet<string> IrrelevantForDiscovery = new(StringComparer.Ordinal)
    {
        "InitialR2T", "ImmediateData", "MaxBurstLength", "FirstBurstLength", "MaxOutstandingR2T",
        "DataPDUInOrder", "DataSequenceInOrder",
    };

    /// <summary>Keys only the login phase may carry (RFC 7143 §13, "Use: LO" or "Use: IO").</summary>
    public static readonly HashSet<string> LoginOnlyKeys = new(StringComparer.Ordinal)
    {
        "HeaderDigest", "DataDigest", "MaxConnections", "InitialR2T", "ImmediateData", "MaxBurstLength",
        "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder",
        "DataSequenceInOrder", "ErrorRecoveryLevel", "SessionType", "TargetName", "InitiatorName",
        "OFMarker", "IFMarker", "OFMarkInt", "IFMarkInt", "AuthMethod", "iSCSIProtocolLevel", "RDMAExtensions",
    };

    /// <summary>
    /// Answers one operational key. Returns the answer value, or null for declarative keys that get no answer.
    /// </summary>
    public static string? Answer(string key, string value, bool discovery, SessionParameters p)
    {
        if (discovery && IrrelevantForDiscovery.Contains(key))
            return TextValues.Irrelevant;

        switch (key)
        {
            case "HeaderDigest":
                return ChooseDigest(value, d => p.HeaderDigest = d);
            case "DataDigest":
                return ChooseDigest(value, d => p.DataDigest = d);
            case "MaxConnections":
                return Minimum(value, 1, 65535, TargetMaxConnections, v => p.MaxConnections = v);
            case "InitialR2T":
                // Result function OR: we are happy without InitialR2T, so the initiator decides.
                return Boolean(value, initiator => p.InitialR2T = initiator, target: false, or: true);
            case "ImmediateData":
                // Result function AND: we support immediate data, so the initiator decides.
                return Boolean(value, initiator => p.ImmediateData = initiator, target: true, or: false);
            case "MaxBurstLength":
                return Minimum(value, IscsiLimits.MinDataSegmentLength, IscsiLimits.MaxBurstLengthLimit, IscsiLimits.MaxBurstLengthLimit, v => p.MaxBurstLength = v);
            case "FirstBurstLength":
                return Minimum(value, IscsiLimits.MinDataSegmentLength, IscsiLimits.MaxBurstLengthLimit, IscsiLimits.MaxBurstLengthLimit, v => p.FirstBurstLength = v);
            case "DefaultTime2Wait":
                return Maximum(value, 0, 3600, TargetDefaultTime2Wait, v => p.DefaultTime2Wait = v);
            case "DefaultTime2Retain":
                return Minimum(value, 0, 3600, TargetDefaultTime2Retain, v => p.DefaultTime2Retain = v);
            case "MaxOutstandingR2T":
                return Minimum(value, 1, 65535, IscsiLimits.TargetMaxOutstandingR2T, v => p.MaxOutstandingR2T = v);
            case "DataPDUInOrder":
                // OR with our Yes: always Yes (we require in-order Data-Out PDUs).
                return Boolean(value, v => p.DataPduInOrder = v, target: true, or: true);
            case "DataSequenceInOrder":
                return Boolean(value, v => p.DataSequenceInOrder = v, target: true, or: true);
            case "ErrorRecoveryLevel":
                return Minimum(value, 0, 2, TargetErrorRecoveryLevel, v => p.ErrorRecoveryLevel = v);
            case "IFMarker":
            case "OFMarker":
                // RFC 7143 §13.25 obsoletes markers; AND with our No.
                return Boolean(value, _ => { }, target: false, or: false);
            case "IFMarkInt":
            case "OFMarkInt":
                return TextValues.Irrelevant;
            case "RDMAExtensions":
                return Boolean(value, _ => { }, target: false, or: false);
            case "iSCSIProtocolLevel":
                return Minimum(value, 0, 31, TargetProtocolLevel, _ => { });
            case "TaskReporting":
                // RFC 7143 §13.23: we report tasks the RFC 3720 way.
                return "RFC3720";
            case "MaxRecvDataSegmentLength":
                if (!TextParameters.TryParseNumber(value, out ulong mrdsl) || mrdsl < IscsiLimits.MinDataSegmentLength || mrdsl > IscsiLimits.MaxBurstLengthLimit)
                    return TextValues.Reject;
                p.InitiatorMaxRecvDataSegmentLength = (int)mrdsl;
                return null; // declarative
            case "InitiatorAlias":
                p.InitiatorAlias = value;
                return null;
            case "TargetRecvDataSegmentLength":
            case "InitiatorRecvDataSegmentLength":
                return TextValues.Irrelevant; // iSER only (RFC 7145)
            case "InitiatorName":
            case "TargetName":
            case "SessionType":
                return null; // declarative, handled by the login state machine
            case "TargetAlias":
            case "TargetAddress":
            case "TargetPortalGroupTag":
                return TextValues.Reject; // target-only keys
            default:
                return TextValues.NotUnderstood;
        }
    }

    private static string ChooseDigest(string offer, Action<bool> apply)
    {
        foreach (string candidate in offer.Split(','))
        {
            if (candidate == "CRC32C") { apply(true); return "CRC32C"; }
            if (candidate == "None") { apply(false); return "None"; }
        }
        return TextValues.Reject;
    }

    private static string Minimum(string offer, int min, int max, int ours, Action<int> apply)
    {
        if (!TextParameters.TryParseNumber(offer, out ulong n) || n < (ulong)min || n > (ulong)max)
            return TextValues.Reject;
        int result = (int)Math.Min((ulong)ours, n);
        apply(result);
        return result.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Maximum(string offer, int min, int max, int ours, Action<int> apply)
    {
        if (!TextParameters.TryParseNumber(offer, out ulong n) || n < (ulong)min || n > (ulong)max)
            return TextValues.Reject;
        int result = (int)Math.Max((ulong)ours, n);
        apply(result);
        return result.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <param name="or">True for result function OR, false for AND.</param>
    private static string Boolean(string offer, Action<bool> apply, bool target, bool or)
    {
        bool initiator;
        if (offer == TextValues.Yes) initiator = true;
        else if (offer == TextValues.No) initiator = false;
        else return TextValues.Reject;
        bool result = or ? initiator || target : initiator && target;
        apply(result);
        return result ? TextValues.Yes : TextValues.No;
    }
}
