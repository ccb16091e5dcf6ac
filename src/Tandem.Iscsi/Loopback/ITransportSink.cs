namespace Tandem.Iscsi.Loopback;

/// <summary>The far end of an <see cref="InMemoryTransport"/>: where the target's bytes go.</summary>
internal interface ITransportSink
{
    /// <summary>
    /// Bytes the target sent, in stream order, called on the target's send loop. The span is only valid
    /// during the call (it points into the target's send arena and task buffers).
    /// </summary>
    void OnSent(ReadOnlySpan<byte> bytes);

    /// <summary>The target closed the connection.</summary>
    void OnClosed();
}
