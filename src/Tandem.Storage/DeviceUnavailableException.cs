namespace Tandem.Storage;

/// <summary>
/// The device must not serve I/O right now: an HA replica that is not synchronized, or one about
/// to become so. The SCSI layer answers NOT READY with the ALUA reason, so multipath initiators
/// fail over instead of treating it as a media error.
/// </summary>
public sealed class DeviceUnavailableException(string message, bool transitioning = false) : Exception(message)
{
    /// <summary>True when the state is changing (asymmetric access state transition) rather than settled.</summary>
    public bool Transitioning { get; } = transitioning;
}
