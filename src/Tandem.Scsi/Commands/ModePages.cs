using System.Buffers.Binary;
using Tandem.Scsi.LogicalUnits;

namespace Tandem.Scsi.Commands;

/// <summary>
/// The mode pages we keep (SPC-4 §7.5, SBC-3 §6.4) and how each page control (current,
/// changeable, default, saved) renders them. Changeable bits: WCE (caching) and SWP (control).
/// </summary>
public static class ModePages
{
    public const byte ReadWriteErrorRecovery = 0x01;
    public const byte Caching = 0x08;
    public const byte Control = 0x0A;
    public const byte InformationalExceptions = 0x1C;
    public const byte AllPages = 0x3F;

    public const int PageControlCurrent = 0;
    public const int PageControlChangeable = 1;
    public const int PageControlDefault = 2;
    public const int PageControlSaved = 3;

    /// <summary>Pages in the order MODE SENSE returns them for "all pages".</summary>
    public static ReadOnlySpan<byte> All => [ReadWriteErrorRecovery, Caching, Control, InformationalExceptions];

    public const byte WceBit = 0x04;      // caching page byte 2
    public const byte SwpBit = 0x08;      // control page byte 4
    private const byte QueueAlgorithmUnrestricted = 0x10; // control page byte 3

    /// <summary>Full length (header included) of a page, or 0 if unknown.</summary>
    public static int Length(byte page) => page switch
    {
        ReadWriteErrorRecovery => 12,
        Caching => 20,
        Control => 12,
        InformationalExceptions => 12,
        _ => 0,
    };

    /// <summary>Writes one page as seen through <paramref name="pageControl"/>; returns its length.</summary>
    public static int Write(ScsiLogicalUnit unit, byte page, int pageControl, Span<byte> destination)
    {
        int length = Length(page);
        var p = destination[..length];
        p.Clear();
        p[0] = page;
        p[1] = (byte)(length - 2);
        bool changeable = pageControl == PageControlChangeable;
        bool defaults = pageControl == PageControlDefault;
        switch (page)
        {
            case Caching:
                if (changeable)
                    p[2] = WceBit;
                else if (defaults ? unit.Options.WriteCacheEnabled : unit.WriteCacheEnabled)
                    p[2] = WceBit;
                break;
            case Control:
                if (changeable)
                {
                    p[4] = SwpBit;
                    break;
                }
                p[3] = QueueAlgorithmUnrestricted;
                if (!defaults && unit.SoftwareWriteProtect)
                    p[4] = SwpBit;
                // Byte 5 TAS = 0: tasks aborted by another nexus's CLEAR TASK SET or reset end without
                // a status; their initiator learns of it from COMMANDS CLEARED BY ANOTHER INITIATOR
                // (the transport sends nothing for aborted tasks, so TAS = 1 would be a lie).
                BinaryPrimitives.WriteUInt16BigEndian(p[8..], 0xFFFF); // BUSY TIMEOUT PERIOD: unlimited
                break;
        }
        return length;
    }

    /// <summary>Bits an initiator may change with MODE SELECT, per byte of the page.</summary>
    public static void ChangeableMask(byte page, Span<byte> mask)
    {
        mask.Clear();
        if (page == Caching)
            mask[2] = WceBit;
        else if (page == Control)
            mask[4] = SwpBit;
    }
}
