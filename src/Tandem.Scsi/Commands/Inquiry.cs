using System.Buffers.Binary;
using System.Text;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Commands;

/// <summary>INQUIRY — SPC-4 §6.6: standard data and the VPD pages of <see cref="VitalProductData"/>.</summary>
public static class Inquiry
{
    /// <summary>Standard INQUIRY data length we return: up to and including the version descriptors, padded (SPC-4 §6.6.2).</summary>
    public const int StandardLength = 96;

    private const byte PeripheralDirectAccess = 0x00;

    /// <summary>PERIPHERAL QUALIFIER 011b, type 1Fh: no logical unit at this LUN (SPC-4 §6.6.2).</summary>
    public const byte PeripheralNoLogicalUnit = 0x7F;

    private const byte VersionSpc4 = 0x06;
    private const byte HiSupResponseFormat2 = 0x12; // HISUP=1, RESPONSE DATA FORMAT=2
    private const byte TpgsImplicit = 0x10; // TPGS=01b: implicit ALUA only
    private const byte MultiPort = 0x10;
    private const byte CommandQueuing = 0x02;

    // SPC-4 Annex E version descriptors.
    private const ushort Sam5 = 0x00A0;
    private const ushort Spc4 = 0x0460;
    private const ushort Sbc3 = 0x04C0;
    private const ushort Iscsi = 0x0960;

    public static ValueTask ExecuteAsync(ScsiLogicalUnit unit, ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        bool evpd = (cdb[1] & 0x01) != 0;
        byte pageCode = cdb[2];
        int allocationLength = CdbReader.U16(cdb, 3);
        if (!evpd)
        {
            if (pageCode != 0)
            {
                Respond.InvalidCdbField(command, 2);
                return ValueTask.CompletedTask;
            }
            Span<byte> data = stackalloc byte[StandardLength];
            WriteStandard(data, unit.Identity, PeripheralDirectAccess);
            Respond.DataIn(command, data, allocationLength);
            return ValueTask.CompletedTask;
        }

        byte[] buffer = Respond.Rent(VitalProductData.MaxPageLength);
        try
        {
            int length = VitalProductData.Write(unit, command.Nexus, pageCode, buffer);
            if (length < 0)
                Respond.InvalidCdbField(command, 2);
            else
                Respond.DataIn(command, buffer.AsSpan(0, length), allocationLength);
        }
        finally
        {
            Respond.Return(buffer);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Standard INQUIRY data for a LUN with no logical unit (qualifier 011b).</summary>
    public static void ExecuteForMissingUnit(ScsiCommand command)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        // No logical unit, no vital product data: only the standard page is answered.
        if (cdb[1] != 0)
        {
            Respond.InvalidCdbField(command, 1);
            return;
        }
        if (cdb[2] != 0)
        {
            Respond.InvalidCdbField(command, 2);
            return;
        }
        Span<byte> data = stackalloc byte[StandardLength];
        WriteStandard(data, null, PeripheralNoLogicalUnit);
        Respond.DataIn(command, data, CdbReader.U16(cdb, 3));
    }

    private static void WriteStandard(Span<byte> data, LogicalUnitIdentity? identity, byte peripheral)
    {
        data.Clear();
        data[0] = peripheral;
        data[2] = VersionSpc4;
        data[3] = HiSupResponseFormat2;
        data[4] = StandardLength - 5;
        data[5] = TpgsImplicit;
        data[6] = MultiPort;
        data[7] = CommandQueuing;
        WriteAscii(data.Slice(8, 8), identity?.Vendor ?? "TANDEM");
        WriteAscii(data.Slice(16, 16), identity?.Product ?? "VSAN");
        WriteAscii(data.Slice(32, 4), identity?.Revision ?? "0001");
        BinaryPrimitives.WriteUInt16BigEndian(data[58..], Sam5);
        BinaryPrimitives.WriteUInt16BigEndian(data[60..], Spc4);
        BinaryPrimitives.WriteUInt16BigEndian(data[62..], Sbc3);
        BinaryPrimitives.WriteUInt16BigEndian(data[64..], Iscsi);
    }

    /// <summary>Left-aligned, space-padded printable ASCII (SPC-4 §4.4.1); other characters become '_'.</summary>
    internal static void WriteAscii(Span<byte> field, string value)
    {
        field.Fill((byte)' ');
        for (int i = 0; i < field.Length && i < value.Length; i++)
        {
            char c = value[i];
            field[i] = c is >= ' ' and <= '~' ? (byte)c : (byte)'_';
        }
    }

    internal static int WriteUtf8(Span<byte> destination, string value) => Encoding.UTF8.GetBytes(value, destination);
}
