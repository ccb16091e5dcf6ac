namespace Tandem.Scsi.Alua;

/// <summary>SPC-4 §5.15.2.2 asymmetric access states, with their REPORT TARGET PORT GROUPS codes.</summary>
public enum AluaState : byte
{
    ActiveOptimized = 0x0,
    ActiveNonOptimized = 0x1,
    Standby = 0x2,
    Unavailable = 0x3,
    Offline = 0xE,
    Transitioning = 0xF,
}
