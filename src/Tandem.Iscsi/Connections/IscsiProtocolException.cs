using Tandem.Iscsi.Pdu;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// A protocol violation that ends the connection (ErrorRecoveryLevel 0 has no finer recovery). When
/// <see cref="Reject"/> is set, a Reject PDU carrying the offending header is sent first.
/// </summary>
internal sealed class IscsiProtocolException(string message, RejectReason? reject = null) : Exception(message)
{
    public RejectReason? Reject { get; } = reject;
}
