using System.Buffers.Binary;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.Commands;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Reservations;

/// <summary>PERSISTENT RESERVE IN service actions — SPC-4 §6.15.</summary>
public sealed partial class PersistentReservations
{
    public const int ReadKeys = 0x00;
    public const int ReadReservation = 0x01;
    public const int ReportCapabilities = 0x02;
    public const int ReadFullStatus = 0x03;

    // REPORT CAPABILITIES (SPC-4 §6.15.4)
    private const byte CompatibleReservationHandling = 0x10; // CRH: RESERVE/RELEASE vs PR per SPC-3 §5.6.3
    private const byte SpecifyInitiatorPortsCapable = 0x08;  // SIP_C
    private const byte AllTargetPortsCapable = 0x04;         // ATP_C
    private const byte PersistThroughPowerLossCapable = 0x01; // PTPL_C
    private const byte TypeMaskValid = 0x80;                  // TMV
    private const byte PersistThroughPowerLossActivated = 0x01; // PTPL_A

    /// <summary>Runs a PERSISTENT RESERVE IN and returns its parameter data through the command.</summary>
    public void ExecuteIn(ScsiCommand command)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        int serviceAction = cdb[1] & 0x1F;
        int allocationLength = CdbReader.U16(cdb, 7);
        byte[] buffer;
        int length;
        lock (_lock)
        {
            switch (serviceAction)
            {
                case ReadKeys:
                    buffer = Respond.Rent(8 + 8 * _registrations.Count);
                    length = WriteKeys(buffer);
                    break;
                case ReadReservation:
                    buffer = Respond.Rent(24);
                    length = WriteReservation(buffer);
                    break;
                case ReportCapabilities:
                    buffer = Respond.Rent(8);
                    length = WriteCapabilities(buffer);
                    break;
                case ReadFullStatus:
                    int size = 8;
                    foreach (var r in _registrations)
                        size += 24 + TransportId.MaxLength(r.InitiatorName);
                    buffer = Respond.Rent(size);
                    length = WriteFullStatus(buffer);
                    break;
                default:
                    throw ScsiCheckConditionException.InvalidCdbField(1, 4);
            }
        }
        try
        {
            Respond.DataIn(command, buffer.AsSpan(0, length), allocationLength);
        }
        finally
        {
            Respond.Return(buffer);
        }
    }

    private int WriteKeys(Span<byte> data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(data, _generation);
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)(8 * _registrations.Count));
        int at = 8;
        foreach (var r in _registrations)
        {
            BinaryPrimitives.WriteUInt64BigEndian(data[at..], r.Key);
            at += 8;
        }
        return at;
    }

    private int WriteReservation(Span<byte> data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(data, _generation);
        if (_type is not ReservationType type)
        {
            BinaryPrimitives.WriteUInt32BigEndian(data[4..], 0);
            return 8;
        }
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], 16);
        // All-registrants reservations report key 0 (SPC-4 §6.15.3.3).
        BinaryPrimitives.WriteUInt64BigEndian(data[8..], type.IsAllRegistrants() ? 0 : _holder!.Key);
        data[21] = (byte)type; // SCOPE 0 (logical unit) | TYPE
        return 24;
    }

    private int WriteCapabilities(Span<byte> data)
    {
        BinaryPrimitives.WriteUInt16BigEndian(data, 8);
        data[2] = (byte)(CompatibleReservationHandling | SpecifyInitiatorPortsCapable | AllTargetPortsCapable
            | (_statePath is null ? 0 : PersistThroughPowerLossCapable));
        data[3] = (byte)(TypeMaskValid | (_persistThroughPowerLoss ? PersistThroughPowerLossActivated : 0));
        data[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
        data[5] = 0x01;                              // EX_AC_AR
        return 8;
    }

    private int WriteFullStatus(Span<byte> data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(data, _generation);
        int at = 8;
        foreach (var r in _registrations)
        {
            var d = data[at..];
            d[..24].Clear();
            BinaryPrimitives.WriteUInt64BigEndian(d, r.Key);
            bool holder = IsHolder(r);
            d[12] = (byte)((r.RelativeTargetPortId is null ? 0x02 : 0) | (holder ? 0x01 : 0));
            if (holder)
                d[13] = (byte)_type!.Value;
            BinaryPrimitives.WriteUInt16BigEndian(d[18..], r.RelativeTargetPortId ?? 0);
            int tid = TransportId.Write(d[24..], r.InitiatorName, r.Isid);
            BinaryPrimitives.WriteUInt32BigEndian(d[20..], (uint)tid);
            at += 24 + tid;
        }
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)(at - 8));
        return at;
    }
}
