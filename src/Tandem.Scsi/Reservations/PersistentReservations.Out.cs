using Tandem.Scsi.Cdb;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Reservations;

/// <summary>PERSISTENT RESERVE OUT service actions — SPC-4 §5.12.5-5.12.11, §6.16.</summary>
public sealed partial class PersistentReservations
{
    public const int Register = 0x00;
    public const int ReserveAction = 0x01;
    public const int ReleaseAction = 0x02;
    public const int Clear = 0x03;
    public const int Preempt = 0x04;
    public const int PreemptAndAbort = 0x05;
    public const int RegisterAndIgnoreExistingKey = 0x06;
    public const int RegisterAndMove = 0x07;

    /// <summary>SPC-4 §6.16.3: the basic PERSISTENT RESERVE OUT parameter list is 24 bytes.</summary>
    private const int BasicParameterListLength = 24;

    private const byte SpecIptBit = 0x08;
    private const byte AllTgPtBit = 0x04;
    private const byte AptplBit = 0x01;

    /// <summary>
    /// Runs a PERSISTENT RESERVE OUT. Throws <see cref="ScsiCheckConditionException"/> or
    /// <see cref="ReservationConflictException"/>; nothing changes unless the command succeeds.
    /// </summary>
    public void ExecuteOut(ScsiCommand command)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        int serviceAction = cdb[1] & 0x1F;
        int scope = cdb[2] >> 4;
        int type = cdb[2] & 0x0F;
        uint parameterListLength = CdbReader.U32(cdb, 5);
        command.TransferLength = (int)Math.Min(parameterListLength, int.MaxValue);

        if (parameterListLength < BasicParameterListLength || command.DataOut.Length < parameterListLength)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);
        ReadOnlySpan<byte> data = command.DataOut.Span[..(int)parameterListLength];
        ulong key = CdbReader.U64(data, 0);
        ulong serviceActionKey = CdbReader.U64(data, 8);
        byte flags = data[20];
        bool specIpt = (flags & SpecIptBit) != 0 && serviceAction != RegisterAndMove;
        if (serviceAction != RegisterAndMove && !specIpt && parameterListLength != BasicParameterListLength)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);

        if (serviceAction is ReserveAction or ReleaseAction or Preempt or PreemptAndAbort or RegisterAndMove)
        {
            if (scope != 0)
                throw ScsiCheckConditionException.InvalidCdbField(2, 7);
            if (!ReservationTypes.IsValid(type))
                throw ScsiCheckConditionException.InvalidCdbField(2, 3);
        }

        var nexus = command.Nexus;
        lock (_lock)
        {
            // SPC-2 reservations and persistent reservations exclude each other (SPC-4 §5.12.3).
            if (_spc2Holder is not null && !_spc2Holder.Equals(nexus))
                throw new ReservationConflictException();

            switch (serviceAction)
            {
                case Register:
                case RegisterAndIgnoreExistingKey:
                    DoRegister(nexus, data, key, serviceActionKey, flags, specIpt, ignoreExisting: serviceAction == RegisterAndIgnoreExistingKey);
                    break;
                case ReserveAction:
                    DoReserve(nexus, key, (ReservationType)type);
                    break;
                case ReleaseAction:
                    DoRelease(nexus, key, (ReservationType)type);
                    break;
                case Clear:
                    DoClear(nexus, key);
                    break;
                case Preempt:
                case PreemptAndAbort:
                    DoPreempt(nexus, key, serviceActionKey, (ReservationType)type);
                    break;
                case RegisterAndMove:
                    DoRegisterAndMove(nexus, data, key, serviceActionKey);
                    break;
                default:
                    throw ScsiCheckConditionException.InvalidCdbField(1, 4);
            }
            Publish();
            SaveIfPersistent();
        }
    }

    private void DoRegister(ITNexus nexus, ReadOnlySpan<byte> data, ulong key, ulong newKey, byte flags, bool specIpt, bool ignoreExisting)
    {
        bool aptpl = (flags & AptplBit) != 0;
        bool allTargetPorts = (flags & AllTgPtBit) != 0;
        if (aptpl && _statePath is null)
            throw ScsiCheckConditionException.InvalidParameterField(20, 0);

        var existing = Find(nexus);
        if (existing is null)
        {
            if (!ignoreExisting && key != 0)
                throw new ReservationConflictException();
            if (specIpt && ignoreExisting)
                throw ScsiCheckConditionException.InvalidParameterField(20, 3);
            if (newKey == 0)
            {
                // Nothing to register: GOOD without any change (SPC-4 §5.12.7 table).
                return;
            }
            var added = new List<Registration>
            {
                new(nexus.InitiatorName, nexus.Isid, allTargetPorts ? null : nexus.RelativeTargetPortId, newKey),
            };
            if (specIpt)
                added.AddRange(ParseSpecifiedPorts(data, nexus, allTargetPorts, newKey));
            _registrations.AddRange(added);
        }
        else
        {
            if (!ignoreExisting && key != existing.Key)
                throw new ReservationConflictException();
            if (specIpt)
                throw ScsiCheckConditionException.InvalidParameterField(20, 3);
            if (newKey == 0)
                Unregister(existing, nexus);
            else
                Replace(existing, existing with { Key = newKey });
        }
        _persistThroughPowerLoss = aptpl;
        _generation++;
    }

    private List<Registration> ParseSpecifiedPorts(ReadOnlySpan<byte> data, ITNexus nexus, bool allTargetPorts, ulong newKey)
    {
        const int LengthOffset = BasicParameterListLength;
        if (data.Length < LengthOffset + 4)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);
        uint additional = CdbReader.U32(data, LengthOffset);
        if (additional > data.Length - LengthOffset - 4)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);
        var list = new List<Registration>();
        int at = LengthOffset + 4;
        int end = at + (int)additional;
        while (at < end)
        {
            var (name, isid, length) = TransportId.Parse(data[at..end], at);
            var registration = new Registration(name, isid, allTargetPorts ? null : nexus.RelativeTargetPortId, newKey);
            bool self = string.Equals(name, nexus.InitiatorName, StringComparison.OrdinalIgnoreCase) && (isid is null || isid == nexus.Isid);
            foreach (var r in _registrations)
            {
                if (r.SameNexusAs(registration))
                    throw ScsiCheckConditionException.InvalidParameterField(at);
            }
            if (!self && !list.Exists(r => r.SameNexusAs(registration)))
                list.Add(registration);
            at += length;
        }
        return list;
    }

    private void DoReserve(ITNexus nexus, ulong key, ReservationType type)
    {
        var registration = Find(nexus);
        if (registration is null || registration.Key != key)
            throw new ReservationConflictException();
        if (_type is ReservationType current)
        {
            // Re-reserving with the same type is a no-op for a holder; anything else conflicts.
            if (IsHolder(registration) && current == type)
                return;
            throw new ReservationConflictException();
        }
        _type = type;
        _holder = type.IsAllRegistrants() ? null : registration;
    }

    private void DoRelease(ITNexus nexus, ulong key, ReservationType type)
    {
        var registration = Find(nexus);
        if (registration is null || registration.Key != key)
            throw new ReservationConflictException();
        if (_type is not ReservationType current || !IsHolder(registration))
            return;
        if (current != type)
            throw new ScsiCheckConditionException(SenseCodes.InvalidReleaseOfPersistentReservation);
        ReleaseReservation(nexus);
    }

    private void DoClear(ITNexus nexus, ulong key)
    {
        var registration = Find(nexus);
        if (registration is null || registration.Key != key)
            throw new ReservationConflictException();
        RaiseFor(_registrations.ToArray(), SenseCodes.ReservationsPreempted, nexus);
        _registrations.Clear();
        _type = null;
        _holder = null;
        _generation++;
    }

    private void DoPreempt(ITNexus nexus, ulong key, ulong preemptKey, ReservationType type)
    {
        var registration = Find(nexus);
        if (registration is null || registration.Key != key)
            throw new ReservationConflictException();

        bool allRegistrants = _type is ReservationType t && t.IsAllRegistrants();
        if (_type is null || (allRegistrants && preemptKey != 0) || (!allRegistrants && _holder!.Key != preemptKey))
        {
            // Preempt registrations only, the reservation (if any) stays (SPC-4 §5.12.11.4.3).
            if (preemptKey == 0)
                throw ScsiCheckConditionException.InvalidParameterField(8);
            var victims = _registrations.Where(r => r.Key == preemptKey && !ReferenceEquals(r, registration)).ToArray();
            if (victims.Length == 0 && !_registrations.Exists(r => r.Key == preemptKey))
                throw new ReservationConflictException();
            RemoveRegistrations(victims, nexus);
            _generation++;
            return;
        }

        // Preempt the reservation: remove the preempted registrations (all others for an
        // all-registrants reservation) and give this nexus a reservation of the new type.
        var removed = _registrations
            .Where(r => !ReferenceEquals(r, registration) && (allRegistrants || r.Key == preemptKey))
            .ToArray();
        var oldType = _type;
        RemoveRegistrations(removed, nexus);
        _type = type;
        _holder = type.IsAllRegistrants() ? null : registration;
        if (oldType != type)
            RaiseFor(_registrations.Where(r => !ReferenceEquals(r, registration)).ToArray(), SenseCodes.ReservationsReleased, nexus);
        _generation++;
    }

    private void DoRegisterAndMove(ITNexus nexus, ReadOnlySpan<byte> data, ulong key, ulong newKey)
    {
        var registration = Find(nexus);
        if (registration is null || registration.Key != key)
            throw new ReservationConflictException();
        if (_type is not ReservationType type || type.IsAllRegistrants() || !ReferenceEquals(_holder, registration))
            throw new ReservationConflictException();
        if (newKey == 0)
            throw ScsiCheckConditionException.InvalidParameterField(8);
        byte flags = data[17];
        bool unregister = (flags & 0x02) != 0;
        bool aptpl = (flags & AptplBit) != 0;
        if (aptpl && _statePath is null)
            throw ScsiCheckConditionException.InvalidParameterField(17, 0);
        ushort relativePort = (ushort)CdbReader.U16(data, 18);
        uint transportIdLength = CdbReader.U32(data, 20);
        if (transportIdLength > data.Length - BasicParameterListLength)
            throw new ScsiCheckConditionException(SenseCodes.ParameterListLengthError);
        var (name, isid, _) = TransportId.Parse(data.Slice(BasicParameterListLength, (int)transportIdLength), BasicParameterListLength);
        if (!KnownRelativePort(relativePort))
            throw ScsiCheckConditionException.InvalidParameterField(18);
        var destination = new Registration(name, isid, relativePort, newKey);
        if (destination.SameNexusAs(registration) || (string.Equals(name, nexus.InitiatorName, StringComparison.OrdinalIgnoreCase) && (isid ?? nexus.Isid) == nexus.Isid && relativePort == nexus.RelativeTargetPortId))
            throw ScsiCheckConditionException.InvalidParameterField(BasicParameterListLength);

        var existing = _registrations.Find(r => r.SameNexusAs(destination));
        if (existing is null)
        {
            _registrations.Add(destination);
            existing = destination;
        }
        _holder = existing;
        if (unregister)
            _registrations.Remove(registration);
        _persistThroughPowerLoss = aptpl;
        _generation++;
    }

    private bool KnownRelativePort(ushort relativePort)
    {
        foreach (var group in _unit.Options.Alua.GetTargetPortGroups())
            if (group.RelativeTargetPortIds.Contains(relativePort))
                return true;
        return false;
    }

    private void Unregister(Registration registration, ITNexus nexus)
    {
        _registrations.Remove(registration);
        if (_type is not ReservationType type)
            return;
        if (type.IsAllRegistrants())
        {
            if (_registrations.Count == 0)
                ClearReservation();
        }
        else if (ReferenceEquals(_holder, registration))
        {
            ReleaseReservation(nexus);
        }
    }

    private void Replace(Registration old, Registration updated)
    {
        int i = _registrations.IndexOf(old);
        _registrations[i] = updated;
        if (ReferenceEquals(_holder, old))
            _holder = updated;
    }

    /// <summary>Releases the reservation; registrants-only and all-registrants types tell the other registrants (SPC-4 §5.12.11.2.2).</summary>
    private void ReleaseReservation(ITNexus nexus)
    {
        var type = _type;
        ClearReservation();
        if (type is ReservationType t && t.AdmitsRegistrants())
            RaiseFor(_registrations.ToArray(), SenseCodes.ReservationsReleased, nexus);
    }

    private void ClearReservation()
    {
        _type = null;
        _holder = null;
    }

    private void RemoveRegistrations(Registration[] victims, ITNexus nexus)
    {
        foreach (var v in victims)
        {
            _registrations.Remove(v);
            if (ReferenceEquals(_holder, v))
                _holder = null;
        }
        RaiseFor(victims, SenseCodes.RegistrationsPreempted, nexus);
        if (_type is not null && _holder is null && !(_type is ReservationType t && t.IsAllRegistrants()))
            ClearReservation();
        if (_type is ReservationType ar && ar.IsAllRegistrants() && _registrations.Count == 0)
            ClearReservation();
    }
}
