namespace Tandem.Scsi.Sense;

/// <summary>A sense key with its additional sense code and qualifier (SPC-4 Annex D).</summary>
public readonly record struct SenseCode(SenseKey Key, byte Asc, byte Ascq)
{
    public override string ToString() => $"{Key} {Asc:X2}h/{Ascq:X2}h";
}

/// <summary>The sense codes this target reports, named as SPC-4 Annex D names them.</summary>
public static class SenseCodes
{
    public static readonly SenseCode NoSense = new(SenseKey.NoSense, 0x00, 0x00);

    // ILLEGAL REQUEST
    public static readonly SenseCode ParameterListLengthError = new(SenseKey.IllegalRequest, 0x1A, 0x00);
    public static readonly SenseCode InvalidCommandOperationCode = new(SenseKey.IllegalRequest, 0x20, 0x00);
    public static readonly SenseCode LbaOutOfRange = new(SenseKey.IllegalRequest, 0x21, 0x00);
    public static readonly SenseCode InvalidFieldInCdb = new(SenseKey.IllegalRequest, 0x24, 0x00);
    public static readonly SenseCode LogicalUnitNotSupported = new(SenseKey.IllegalRequest, 0x25, 0x00);
    public static readonly SenseCode InvalidFieldInParameterList = new(SenseKey.IllegalRequest, 0x26, 0x00);
    public static readonly SenseCode InvalidReleaseOfPersistentReservation = new(SenseKey.IllegalRequest, 0x26, 0x04);
    public static readonly SenseCode TooManyTargetDescriptors = new(SenseKey.IllegalRequest, 0x26, 0x06);
    public static readonly SenseCode UnsupportedTargetDescriptorType = new(SenseKey.IllegalRequest, 0x26, 0x07);
    public static readonly SenseCode TooManySegmentDescriptors = new(SenseKey.IllegalRequest, 0x26, 0x08);
    public static readonly SenseCode UnsupportedSegmentDescriptorType = new(SenseKey.IllegalRequest, 0x26, 0x09);
    public static readonly SenseCode SavingParametersNotSupported = new(SenseKey.IllegalRequest, 0x39, 0x00);
    public static readonly SenseCode MediumRemovalPrevented = new(SenseKey.IllegalRequest, 0x53, 0x02);
    public static readonly SenseCode InsufficientRegistrationResources = new(SenseKey.IllegalRequest, 0x55, 0x04);

    // NOT READY
    public static readonly SenseCode AsymmetricAccessStateTransition = new(SenseKey.NotReady, 0x04, 0x0A);
    public static readonly SenseCode TargetPortInStandbyState = new(SenseKey.NotReady, 0x04, 0x0B);
    public static readonly SenseCode TargetPortInUnavailableState = new(SenseKey.NotReady, 0x04, 0x0C);
    public static readonly SenseCode LogicalUnitNotReadyInitializingCommandRequired = new(SenseKey.NotReady, 0x04, 0x02);
    public static readonly SenseCode LogicalUnitOffline = new(SenseKey.NotReady, 0x04, 0x12);

    // UNIT ATTENTION
    public static readonly SenseCode PowerOnResetOccurred = new(SenseKey.UnitAttention, 0x29, 0x00);
    public static readonly SenseCode ModeParametersChanged = new(SenseKey.UnitAttention, 0x2A, 0x01);
    public static readonly SenseCode ReservationsPreempted = new(SenseKey.UnitAttention, 0x2A, 0x03);
    public static readonly SenseCode ReservationsReleased = new(SenseKey.UnitAttention, 0x2A, 0x04);
    public static readonly SenseCode RegistrationsPreempted = new(SenseKey.UnitAttention, 0x2A, 0x05);
    public static readonly SenseCode AsymmetricAccessStateChanged = new(SenseKey.UnitAttention, 0x2A, 0x06);
    public static readonly SenseCode CapacityDataHasChanged = new(SenseKey.UnitAttention, 0x2A, 0x09);
    public static readonly SenseCode CommandsClearedByAnotherInitiator = new(SenseKey.UnitAttention, 0x2F, 0x00);
    public static readonly SenseCode ReportedLunsDataHasChanged = new(SenseKey.UnitAttention, 0x3F, 0x0E);

    // Errors from the medium or the target itself
    public static readonly SenseCode WriteError = new(SenseKey.MediumError, 0x0C, 0x00);
    public static readonly SenseCode UnrecoveredReadError = new(SenseKey.MediumError, 0x11, 0x00);
    public static readonly SenseCode InternalTargetFailure = new(SenseKey.HardwareError, 0x44, 0x00);
    public static readonly SenseCode MiscompareDuringVerify = new(SenseKey.Miscompare, 0x1D, 0x00);
    public static readonly SenseCode WriteProtected = new(SenseKey.DataProtect, 0x27, 0x00);

    // Data-Out errors the iSCSI transport ends a command with (ErrorRecoveryLevel 0)
    public static readonly SenseCode DataPhaseError = new(SenseKey.AbortedCommand, 0x4B, 0x00);
    public static readonly SenseCode TooMuchWriteData = new(SenseKey.AbortedCommand, 0x4B, 0x02);
    public static readonly SenseCode InvalidDataOutBufferOffset = new(SenseKey.AbortedCommand, 0x4B, 0x05);
    public static readonly SenseCode UnexpectedUnsolicitedData = new(SenseKey.AbortedCommand, 0x0C, 0x0C);
}
