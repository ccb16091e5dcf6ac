using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.Commands;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Reservations;

/// <summary>
/// Reservations of one logical unit: SPC-4 persistent reservations (registrations, the one
/// persistent reservation, APTPL persistence) and SPC-2 RESERVE/RELEASE reservations, which
/// cannot coexist with persistent ones.
/// </summary>
/// <remarks>
/// Changes happen under a lock (PR commands are rare); the command path reads an immutable
/// <see cref="Snapshot"/> without locking, and skips everything when nothing is held.
/// </remarks>
public sealed partial class PersistentReservations
{
    private readonly ScsiLogicalUnit _unit;
    private readonly string? _statePath;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    private readonly List<Registration> _registrations = [];
    private uint _generation;
    private ReservationType? _type;
    private Registration? _holder; // null with an all-registrants type
    private bool _persistThroughPowerLoss;
    private ITNexus? _spc2Holder;
    private volatile Snapshot? _snapshot;

    /// <summary>What the command path needs to decide conflicts, frozen at the last change.</summary>
    public sealed record Snapshot(ITNexus? Spc2Holder, ReservationType? Type, Registration? Holder, Registration[] Registrations)
    {
        public bool IsRegistered(ITNexus nexus)
        {
            foreach (var r in Registrations)
                if (r.Matches(nexus))
                    return true;
            return false;
        }
    }

    internal PersistentReservations(ScsiLogicalUnit unit, string? statePath, ILogger logger)
    {
        _unit = unit;
        _statePath = statePath;
        _logger = logger;
        if (statePath is not null)
            Load(statePath);
        Publish();
    }

    /// <summary>PRgeneration: bumped by every PERSISTENT RESERVE OUT that changes registrations.</summary>
    public uint Generation
    {
        get { lock (_lock) return _generation; }
    }

    public Snapshot? Current => _snapshot;

    /// <summary>Whether the nexus may run the command given the reservations held (SPC-4 §5.12.1, SPC-2 §5.5.1).</summary>
    public bool CheckAccess(ScsiCommand command, CommandDescriptor descriptor)
    {
        var s = _snapshot;
        if (s is null)
            return true;
        var nexus = command.Nexus;
        if (s.Spc2Holder is not null && !s.Spc2Holder.Equals(nexus))
            return (descriptor.Flags & CommandFlags.AllowedUnderSpc2Reservation) != 0;
        if (s.Type is not ReservationType type || descriptor.Access == ReservationAccess.Allowed)
            return true;
        if (descriptor.Access == ReservationAccess.Read && !type.IsExclusiveAccess())
            return true;
        if (type.AdmitsRegistrants())
            return s.IsRegistered(nexus);
        return s.Holder is not null && s.Holder.Matches(nexus);
    }

    // ---- SPC-2 RESERVE / RELEASE ----------------------------------------------------------

    /// <summary>RESERVE(6/10): conflicts with persistent registrations and with another holder.</summary>
    public bool Reserve(ITNexus nexus)
    {
        lock (_lock)
        {
            if (_registrations.Count > 0 || _type is not null)
                return false;
            if (_spc2Holder is not null && !_spc2Holder.Equals(nexus))
                return false;
            _spc2Holder = nexus;
            Publish();
            return true;
        }
    }

    /// <summary>RELEASE(6/10): releases only the caller's own reservation; otherwise a no-op.</summary>
    public bool Release(ITNexus nexus)
    {
        lock (_lock)
        {
            if (_registrations.Count > 0 || _type is not null)
                return false;
            if (_spc2Holder is not null && _spc2Holder.Equals(nexus))
            {
                _spc2Holder = null;
                Publish();
            }
            return true;
        }
    }

    /// <returns>True when the lost nexus held a RESERVE(6/10) reservation (now released).</returns>
    internal bool OnNexusLost(ITNexus nexus)
    {
        lock (_lock)
        {
            if (_spc2Holder is not null && _spc2Holder.Equals(nexus))
            {
                _spc2Holder = null;
                Publish();
                return true;
            }
            return false;
        }
    }

    /// <summary>A logical unit reset releases RESERVE(6/10) reservations; persistent ones survive (SPC-4 §5.12.1).</summary>
    internal bool OnLogicalUnitReset()
    {
        lock (_lock)
        {
            if (_spc2Holder is null)
                return false;
            _spc2Holder = null;
            Publish();
            return true;
        }
    }

    // ---- helpers ----------------------------------------------------------------------------

    private Registration? Find(ITNexus nexus)
    {
        foreach (var r in _registrations)
            if (r.Matches(nexus))
                return r;
        return null;
    }

    private bool IsHolder(Registration registration) =>
        _type is ReservationType t && (t.IsAllRegistrants() || ReferenceEquals(_holder, registration));

    private void Publish()
    {
        _snapshot = _spc2Holder is null && _type is null && _registrations.Count == 0
            ? null
            : new Snapshot(_spc2Holder, _type, _holder, _registrations.ToArray());
    }

    /// <summary>Raises a unit attention on every known nexus that one of the registrations covers (here and on HA partners).</summary>
    private void RaiseFor(IEnumerable<Registration> registrations, SenseCode code, ITNexus except)
    {
        var list = registrations as Registration[] ?? registrations.ToArray();
        RecordEvent(list, code);
        RaiseLocally(list, code, except);
    }

    private void RaiseLocally(IEnumerable<Registration> registrations, SenseCode code, ITNexus? except)
    {
        foreach (var state in _unit.NexusStates)
        {
            if (except is not null && state.Nexus.Equals(except))
                continue;
            foreach (var r in registrations)
            {
                if (r.Matches(state.Nexus))
                {
                    state.Raise(code);
                    break;
                }
            }
        }
    }
}
