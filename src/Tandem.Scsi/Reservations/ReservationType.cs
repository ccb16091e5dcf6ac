namespace Tandem.Scsi.Reservations;

/// <summary>SPC-4 §6.16.2 persistent reservation types.</summary>
public enum ReservationType : byte
{
    WriteExclusive = 0x1,
    ExclusiveAccess = 0x3,
    WriteExclusiveRegistrantsOnly = 0x5,
    ExclusiveAccessRegistrantsOnly = 0x6,
    WriteExclusiveAllRegistrants = 0x7,
    ExclusiveAccessAllRegistrants = 0x8,
}

public static class ReservationTypes
{
    public static bool IsValid(int type) => type is 1 or 3 or 5 or 6 or 7 or 8;

    /// <summary>All-registrants types: every registrant is a reservation holder (SPC-4 §5.12.9).</summary>
    public static bool IsAllRegistrants(this ReservationType type) =>
        type is ReservationType.WriteExclusiveAllRegistrants or ReservationType.ExclusiveAccessAllRegistrants;

    /// <summary>Registrants-only and all-registrants types: registrants get access too.</summary>
    public static bool AdmitsRegistrants(this ReservationType type) => type >= ReservationType.WriteExclusiveRegistrantsOnly;

    /// <summary>Exclusive-access types also refuse reads to those without access.</summary>
    public static bool IsExclusiveAccess(this ReservationType type) =>
        type is ReservationType.ExclusiveAccess or ReservationType.ExclusiveAccessRegistrantsOnly or ReservationType.ExclusiveAccessAllRegistrants;
}
