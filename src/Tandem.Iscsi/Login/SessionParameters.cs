namespace Tandem.Iscsi.Login;

/// <summary>
/// Operational parameters of a session and its connection after negotiation. Initial values are the
/// RFC 7143 §13 defaults that hold when a key is not negotiated.
/// </summary>
internal sealed class SessionParameters
{
    public bool HeaderDigest { get; set; }
    public bool DataDigest { get; set; }

    /// <summary>The initiator's declared MaxRecvDataSegmentLength: the largest data segment we may send.</summary>
    public int InitiatorMaxRecvDataSegmentLength { get; set; } = IscsiLimits.DefaultMaxRecvDataSegmentLength;

    public int MaxBurstLength { get; set; } = 262144;
    public int FirstBurstLength { get; set; } = 65536;
    public bool InitialR2T { get; set; } = true;
    public bool ImmediateData { get; set; } = true;
    public int MaxOutstandingR2T { get; set; } = 1;
    public int DefaultTime2Wait { get; set; } = 2;
    public int DefaultTime2Retain { get; set; } = 20;
    public int MaxConnections { get; set; } = 1;
    public int ErrorRecoveryLevel { get; set; }
    public bool DataPduInOrder { get; set; } = true;
    public bool DataSequenceInOrder { get; set; } = true;
    public string? InitiatorAlias { get; set; }

    public SessionParameters Clone() => (SessionParameters)MemberwiseClone();
}
