using Tandem.Iscsi.Commands;
using Tandem.Iscsi.Login;

namespace Tandem.Iscsi.Connections;

/// <summary>How a PDU uses the connection's StatSN (RFC 7143 §4.2.2.2).</summary>
internal enum StatSnUse : byte
{
    /// <summary>Field left as built (login responses carry it already).</summary>
    AsBuilt,
    /// <summary>Carries the next StatSN without consuming it (R2T, NOP-In ping).</summary>
    Current,
    /// <summary>Carries a status and consumes a StatSN (responses, Reject).</summary>
    Advance,
}

/// <summary>A non-I/O PDU to send: login/text/logout/task-management responses, NOP-In, Reject.</summary>
internal sealed class ControlPdu
{
    public readonly byte[] Header = new byte[IscsiLimits.BhsLength];
    public byte[]? Data;
    public int DataLength;
    public StatSnUse StatSn = StatSnUse.Advance;

    /// <summary>Close the connection once this PDU is on the wire (logout, fatal error, cold reset).</summary>
    public bool CloseAfterSend;

    /// <summary>Parameters that take effect for every PDU after this one (the Login Final-Response).</summary>
    public SessionParameters? ApplyParametersAfter;

    /// <summary>Signalled when the PDU has been written to the socket (or the connection died).</summary>
    public TaskCompletionSource? Sent;
}

/// <summary>One item of a connection's send queue.</summary>
internal readonly struct Outbound
{
    public readonly ControlPdu? Control;
    public readonly ScsiTask? Task;
    public readonly R2TRequest R2T;

    public Outbound(ControlPdu control) { Control = control; Task = null; R2T = default; }
    public Outbound(ScsiTask task) { Control = null; Task = task; R2T = default; }
    public Outbound(in R2TRequest r2t) { Control = null; Task = null; R2T = r2t; }
}

/// <summary>An R2T to send (values copied so the queue never touches a recycled task slot).</summary>
internal readonly record struct R2TRequest(ulong LunField, uint InitiatorTaskTag, uint TargetTransferTag, uint R2TSN, int Offset, int Length);
