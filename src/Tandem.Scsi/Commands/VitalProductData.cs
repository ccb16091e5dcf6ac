using System.Buffers.Binary;
using System.Text;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>The VPD pages (SPC-4 §7.8, SBC-3 §6.5) we return for INQUIRY with EVPD=1.</summary>
public static class VitalProductData
{
    public const byte SupportedPages = 0x00;
    public const byte UnitSerialNumber = 0x80;
    public const byte DeviceIdentification = 0x83;
    public const byte ExtendedInquiry = 0x86;
    public const byte BlockLimits = 0xB0;
    public const byte BlockDeviceCharacteristics = 0xB1;
    public const byte LogicalBlockProvisioning = 0xB2;

    /// <summary>Implementation limit: largest page we build (device identification with long iSCSI names).</summary>
    public const int MaxPageLength = 1024;

    private static readonly byte[] Pages =
    [
        SupportedPages, UnitSerialNumber, DeviceIdentification, ExtendedInquiry,
        BlockLimits, BlockDeviceCharacteristics, LogicalBlockProvisioning,
    ];

    private const byte ProtocolIscsi = 0x5;
    private const byte CodeSetBinary = 0x1;
    private const byte CodeSetAscii = 0x2;
    private const byte CodeSetUtf8 = 0x3;
    private const byte AssociationLogicalUnit = 0x00;
    private const byte AssociationTargetPort = 0x10;
    private const byte AssociationTargetDevice = 0x20;
    private const byte ProtocolIdentifierValid = 0x80;
    private const byte DesignatorT10Vendor = 0x1;
    private const byte DesignatorNaa = 0x3;
    private const byte DesignatorRelativeTargetPort = 0x4;
    private const byte DesignatorTargetPortGroup = 0x5;
    private const byte DesignatorScsiName = 0x8;

    /// <summary>Writes a page into <paramref name="buffer"/>; returns its length, or -1 for an unsupported page.</summary>
    public static int Write(ScsiLogicalUnit unit, ITNexus nexus, byte pageCode, Span<byte> buffer)
    {
        buffer[0] = 0x00; // peripheral qualifier 000b, direct access block device
        buffer[1] = pageCode;
        int body = pageCode switch
        {
            SupportedPages => WriteSupportedPages(buffer[4..]),
            UnitSerialNumber => WriteSerial(unit, buffer[4..]),
            DeviceIdentification => WriteDeviceIdentification(unit, nexus, buffer[4..]),
            ExtendedInquiry => WriteExtendedInquiry(buffer[4..]),
            BlockLimits => WriteBlockLimits(unit, buffer[4..]),
            BlockDeviceCharacteristics => WriteBlockDeviceCharacteristics(buffer[4..]),
            LogicalBlockProvisioning => WriteLogicalBlockProvisioning(unit, buffer[4..]),
            _ => -1,
        };
        if (body < 0)
            return -1;
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)body);
        return 4 + body;
    }

    private static int WriteSupportedPages(Span<byte> body)
    {
        Pages.CopyTo(body);
        return Pages.Length;
    }

    private static int WriteSerial(ScsiLogicalUnit unit, Span<byte> body)
    {
        string serial = unit.Identity.Serial;
        int n = Math.Min(serial.Length, 252);
        Inquiry.WriteAscii(body[..n], serial);
        return n;
    }

    private static int WriteDeviceIdentification(ScsiLogicalUnit unit, ITNexus nexus, Span<byte> body)
    {
        int at = 0;

        // Logical unit: NAA-6 (same on every node of an HA device).
        at += Designator(body[at..], CodeSetBinary, AssociationLogicalUnit | DesignatorNaa, piv: false, unit.Identity.Naa.AsSpan(0, Math.Min(16, unit.Identity.Naa.Length)));

        // Logical unit: T10 vendor ID + serial, which Linux and ESXi also use to match paths.
        Span<byte> t10 = stackalloc byte[8 + 64];
        Inquiry.WriteAscii(t10[..8], unit.Identity.Vendor);
        int serialLength = Math.Min(unit.Identity.Serial.Length, 64);
        Inquiry.WriteAscii(t10.Slice(8, serialLength), unit.Identity.Serial);
        at += Designator(body[at..], CodeSetAscii, AssociationLogicalUnit | DesignatorT10Vendor, piv: false, t10[..(8 + serialLength)]);

        // Target port: relative port and port group (unique per node), and the port's iSCSI name.
        Span<byte> id = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(id[2..], nexus.RelativeTargetPortId);
        at += Designator(body[at..], CodeSetBinary, AssociationTargetPort | DesignatorRelativeTargetPort, piv: true, id);
        BinaryPrimitives.WriteUInt16BigEndian(id[2..], nexus.TargetPortGroupId);
        at += Designator(body[at..], CodeSetBinary, AssociationTargetPort | DesignatorTargetPortGroup, piv: true, id);
        at += NameDesignator(body[at..], AssociationTargetPort, nexus.TargetPortName);

        // Target device: the iSCSI target name.
        at += NameDesignator(body[at..], AssociationTargetDevice, nexus.TargetName);
        return at;
    }

    private static int Designator(Span<byte> destination, byte codeSet, byte associationAndType, bool piv, ReadOnlySpan<byte> value)
    {
        destination[0] = (byte)((piv ? ProtocolIscsi << 4 : 0) | codeSet);
        destination[1] = (byte)((piv ? ProtocolIdentifierValid : 0) | associationAndType);
        destination[2] = 0;
        destination[3] = (byte)value.Length;
        value.CopyTo(destination[4..]);
        return 4 + value.Length;
    }

    /// <summary>SCSI name string designator: UTF-8, null-terminated, padded to a multiple of 4 (SPC-4 §7.8.6.11).</summary>
    private static int NameDesignator(Span<byte> destination, byte association, string name)
    {
        int max = Math.Min(Encoding.UTF8.GetByteCount(name), 251);
        int padded = (max + 1 + 3) & ~3;
        Span<byte> value = stackalloc byte[padded];
        value.Clear();
        Encoding.UTF8.GetBytes(name.AsSpan(0, Math.Min(name.Length, max)), value);
        return Designator(destination, CodeSetUtf8, (byte)(association | DesignatorScsiName), piv: true, value);
    }

    private static int WriteExtendedInquiry(Span<byte> body)
    {
        body[..0x3C].Clear();
        body[1] = 0x07; // HEADSUP, ORDSUP, SIMPSUP
        body[2] = 0x01; // V_SUP: a volatile cache may be present
        body[3] = 0x01; // LUICLR: unit attentions are cleared per I_T nexus
        return 0x3C;
    }

    private static int WriteBlockLimits(ScsiLogicalUnit unit, Span<byte> body)
    {
        int blockSize = unit.Device.BlockSize;
        int perPhysical = 1 << LogicalUnits.BlockLimits.LogicalPerPhysicalExponent(blockSize);
        body[..0x3C].Clear();
        body[0] = 0x01; // WSNZ: WRITE SAME with zero blocks is not supported
        body[1] = LogicalUnits.BlockLimits.MaxCompareAndWriteBlocks;
        BinaryPrimitives.WriteUInt16BigEndian(body[2..], (ushort)perPhysical);
        BinaryPrimitives.WriteUInt32BigEndian(body[4..], (uint)LogicalUnits.BlockLimits.MaxTransferBlocks(blockSize));
        BinaryPrimitives.WriteUInt32BigEndian(body[8..], (uint)(LogicalUnits.BlockLimits.OptimalTransferBytes / blockSize));
        if (unit.IsThinProvisioned)
        {
            BinaryPrimitives.WriteUInt32BigEndian(body[16..], LogicalUnits.BlockLimits.MaxUnmapBlocks);
            BinaryPrimitives.WriteUInt32BigEndian(body[20..], LogicalUnits.BlockLimits.MaxUnmapDescriptors);
            BinaryPrimitives.WriteUInt32BigEndian(body[24..], (uint)perPhysical);
            BinaryPrimitives.WriteUInt32BigEndian(body[28..], 0x8000_0000); // UGAVALID, alignment 0
        }
        BinaryPrimitives.WriteUInt64BigEndian(body[32..], LogicalUnits.BlockLimits.MaxWriteSameBlocks);
        return 0x3C;
    }

    private static int WriteBlockDeviceCharacteristics(Span<byte> body)
    {
        body[..0x3C].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(body, 0x0001); // non-rotating medium
        return 0x3C;
    }

    private static int WriteLogicalBlockProvisioning(ScsiLogicalUnit unit, Span<byte> body)
    {
        body[..4].Clear();
        if (unit.IsThinProvisioned)
        {
            body[1] = 0x80 | 0x40 | 0x20 | 0x04; // LBPU, LBPWS, LBPWS10, LBPRZ
            body[2] = 0x02; // PROVISIONING TYPE: thin
        }
        return 4;
    }
}
