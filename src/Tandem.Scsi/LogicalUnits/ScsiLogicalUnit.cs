using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Scsi.Alua;
using Tandem.Scsi.Commands;
using Tandem.Scsi.Reservations;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;
using Tandem.Storage;

namespace Tandem.Scsi.LogicalUnits;

/// <summary>
/// A SCSI direct-access logical unit (SBC-3) over a block device: runs commands, keeps per-nexus
/// unit attentions, reservations, mode parameters and the COMPARE AND WRITE gate.
/// </summary>
/// <remarks>
/// Command pipeline (SAM-5 §5.14, SPC-4 §5.12, §5.15): decode → reserved-bit check → unit
/// attention → ALUA access state → reservation conflict → write protection → handler. Every step
/// is lock-free on the READ/WRITE path; only reservation and mode changes take locks.
/// </remarks>
public sealed class ScsiLogicalUnit
{
    private readonly ConcurrentDictionary<ITNexus, NexusState> _nexuses = new();
    private readonly UnitAttentionCounter _unitAttentions = new();
    private readonly ILogger _logger;
    private volatile bool _writeCacheEnabled;
    private volatile bool _softwareWriteProtect;

    public ScsiLogicalUnit(IBlockDevice device, LogicalUnitIdentity identity, LogicalUnitOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(options);
        if (device.BlockSize is not (512 or 4096))
            throw new ArgumentException($"Block size {device.BlockSize} is not supported (512 or 4096)", nameof(device));
        Device = device;
        Identity = identity;
        Options = options;
        _logger = options.Logger ?? NullLogger.Instance;
        _writeCacheEnabled = options.WriteCacheEnabled;
        Reservations = new PersistentReservations(this, options.ReservationStatePath, _logger);
    }

    public IBlockDevice Device { get; }
    public LogicalUnitIdentity Identity { get; }
    public LogicalUnitOptions Options { get; }

    /// <summary>Persistent and RESERVE(6/10) reservations of this logical unit.</summary>
    public PersistentReservations Reservations { get; }

    /// <summary>Makes COMPARE AND WRITE / ORWRITE atomic against other writes.</summary>
    public WriteGate WriteGate { get; } = new();

    internal ILogger Logger => _logger;

    /// <summary>Set by the target this unit is attached to, so REPORT LUNS sent to the unit lists the target's LUNs.</summary>
    internal Func<IReadOnlyCollection<ulong>>? LunProvider { get; set; }

    internal IReadOnlyCollection<ulong> ReportedLuns() => LunProvider?.Invoke() ?? [0UL];

    public bool IsThinProvisioned => Device.IsThinProvisioned;

    /// <summary>
    /// Current WCE bit of the caching mode page. Initiators change it with MODE SELECT; the node
    /// may change it too (a write-back device falling back to write-through) — then call
    /// <see cref="RaiseUnitAttention"/> with MODE PARAMETERS CHANGED so initiators re-read it.
    /// </summary>
    public bool WriteCacheEnabled
    {
        get => _writeCacheEnabled;
        set => _writeCacheEnabled = value;
    }

    /// <summary>Current SWP bit of the control mode page (software write protect).</summary>
    public bool SoftwareWriteProtect
    {
        get => _softwareWriteProtect;
        internal set => _softwareWriteProtect = value;
    }

    /// <summary>True when writes are refused: configured read-only or SWP set by MODE SELECT.</summary>
    public bool IsWriteProtected => Options.ReadOnly || _softwareWriteProtect;

    /// <summary>Flags for a media write: FUA when asked, or always when the initiator turned the write cache off.</summary>
    public WriteFlags WriteFlagsFor(bool forceUnitAccess) =>
        forceUnitAccess || !_writeCacheEnabled ? WriteFlags.ForceUnitAccess : WriteFlags.None;

    /// <summary>Call after the device was resized: raises CAPACITY DATA HAS CHANGED for every nexus.</summary>
    public void NotifyCapacityChanged() => RaiseUnitAttention(SenseCodes.CapacityDataHasChanged, except: null);

    /// <summary>Call after the ALUA state of any target port group changed: raises ASYMMETRIC ACCESS STATE CHANGED for every nexus.</summary>
    public void NotifyAsymmetricAccessStateChanged() => RaiseUnitAttention(SenseCodes.AsymmetricAccessStateChanged, except: null);

    /// <summary>Queues a unit attention for every known nexus except <paramref name="except"/>.</summary>
    public void RaiseUnitAttention(SenseCode code, ITNexus? except)
    {
        foreach (var state in _nexuses.Values)
        {
            if (except is null || !state.Nexus.Equals(except))
                state.Raise(code);
        }
    }

    /// <summary>Per-nexus state, created on first sight of the nexus.</summary>
    public NexusState GetNexusState(ITNexus nexus) =>
        _nexuses.TryGetValue(nexus, out var state) ? state : _nexuses.GetOrAdd(nexus, static (n, counter) => new NexusState(n, counter), _unitAttentions);

    /// <summary>Nexuses this logical unit knows.</summary>
    public IEnumerable<NexusState> NexusStates => _nexuses.Values;

    internal void OnNexusCreated(ITNexus nexus) => GetNexusState(nexus);

    internal void OnNexusLost(ITNexus nexus)
    {
        if (_nexuses.TryRemove(nexus, out var state))
            state.ClearUnitAttentions();
        if (Reservations.OnNexusLost(nexus) && Options.ReservationSharing is { } sharing)
            _ = sharing.PublishAsync().AsTask();
    }

    /// <summary>
    /// Reset effects (SAM-5 §6.3): release RESERVE(6/10), clear PREVENT, and a power-on/reset unit
    /// attention. A LOGICAL UNIT RESET reports it to every nexus, the requester included (libiscsi
    /// MultipathIO.Reset checks every path); a target reset spares the requester, which knows.
    /// </summary>
    internal async ValueTask OnResetAsync(ITNexus requester, bool includeRequester)
    {
        bool released = ApplyReset(requester, includeRequester);
        if (Options.ReservationSharing is not { } sharing)
            return;
        // Partners see the same effects before the reset completes (a LOGICAL UNIT RESET reaches
        // every path; a target reset only this node's, but a released RESERVE is released everywhere).
        if (includeRequester)
            await sharing.LogicalUnitResetAsync().ConfigureAwait(false);
        else if (released)
            await sharing.PublishAsync().ConfigureAwait(false);
    }

    /// <summary>A LOGICAL UNIT RESET received by an HA partner: the same effects for this node's nexuses.</summary>
    public void OnPartnerLogicalUnitReset() => ApplyReset(requester: null, includeRequester: true);

    /// <returns>True when a RESERVE(6/10) reservation was released.</returns>
    private bool ApplyReset(ITNexus? requester, bool includeRequester)
    {
        bool released = Reservations.OnLogicalUnitReset();
        foreach (var state in _nexuses.Values)
        {
            state.PreventsMediumRemoval = false;
            if (includeRequester || requester is null || !state.Nexus.Equals(requester))
                state.Raise(SenseCodes.PowerOnResetOccurred);
        }
        return released;
    }

    internal void OnTasksCleared(ITNexus victim) =>
        GetNexusState(victim).Raise(SenseCodes.CommandsClearedByAnotherInitiator);

    /// <summary>ALUA state of the target port group the nexus reaches us through.</summary>
    public AluaState AccessStateFor(ITNexus nexus)
    {
        var groups = Options.Alua.GetTargetPortGroups();
        for (int i = 0; i < groups.Count; i++)
        {
            if (groups[i].Id == nexus.TargetPortGroupId)
                return groups[i].State;
        }
        // A port in no reported group: treat the first group's state as ours (single node setups).
        return groups.Count > 0 ? groups[0].State : AluaState.ActiveOptimized;
    }

    /// <summary>Runs one command through the pipeline. Never throws for SCSI errors.</summary>
    public ValueTask ExecuteAsync(ScsiCommand command, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> cdb = command.Cdb;
        var descriptor = CommandTable.Lookup(cdb, IsThinProvisioned, out var lookupError);
        if (descriptor is null)
        {
            // Unit attentions take precedence over rejecting the opcode (SAM-5 §5.14).
            if (ReportUnitAttention(command))
                return ValueTask.CompletedTask;
            if (lookupError is FieldPointer fp)
                SenseData.SetCheckCondition(command, SenseCodes.InvalidFieldInCdb, fieldPointer: fp);
            else
                SenseData.SetCheckCondition(command, SenseCodes.InvalidCommandOperationCode);
            return ValueTask.CompletedTask;
        }

        if ((descriptor.Flags & CommandFlags.IgnoresUnitAttention) == 0 && ReportUnitAttention(command))
            return ValueTask.CompletedTask;

        if (CommandTable.FindReservedBit(cdb, descriptor) is FieldPointer invalid)
        {
            SenseData.SetCheckCondition(command, SenseCodes.InvalidFieldInCdb, fieldPointer: invalid);
            return ValueTask.CompletedTask;
        }

        if (!CheckAluaAccess(command, descriptor))
            return ValueTask.CompletedTask;

        if (!Reservations.CheckAccess(command, descriptor))
        {
            Respond.ReservationConflict(command);
            return ValueTask.CompletedTask;
        }

        if ((descriptor.Flags & CommandFlags.WritesMedium) != 0 && IsWriteProtected)
        {
            SenseData.SetCheckCondition(command, SenseCodes.WriteProtected);
            return ValueTask.CompletedTask;
        }

        if (Options.ReservationSharing is { } sharing && ChangesReservations(cdb[0]))
            return RunShared(sharing, descriptor, command, cancellationToken);
        return descriptor.Handler(this, command, cancellationToken);
    }

    // A separate method so that the closure is allocated only for reservation commands, not on
    // every command's path (captured parameters would hoist it to the caller's entry).
    private ValueTask RunShared(IReservationSharing sharing, CommandDescriptor descriptor, ScsiCommand command, CancellationToken cancellationToken) =>
        sharing.RunExclusiveAsync(() => descriptor.Handler(this, command, cancellationToken), cancellationToken);

    /// <summary>PERSISTENT RESERVE OUT, RESERVE(6/10), RELEASE(6/10).</summary>
    private static bool ChangesReservations(byte opcode) => opcode is 0x5F or 0x16 or 0x56 or 0x17 or 0x57;

    private bool ReportUnitAttention(ScsiCommand command)
    {
        if (!_unitAttentions.Any || !_nexuses.TryGetValue(command.Nexus, out var state) || !state.HasUnitAttention)
            return false;
        if (!state.TryTake(out var code))
            return false;
        SenseData.SetCheckCondition(command, code);
        return true;
    }

    private bool CheckAluaAccess(ScsiCommand command, CommandDescriptor descriptor)
    {
        if ((descriptor.Flags & CommandFlags.AllowedWhenUnavailable) != 0)
            return true;
        var state = AccessStateFor(command.Nexus);
        switch (state)
        {
            case AluaState.ActiveOptimized:
            case AluaState.ActiveNonOptimized:
                return true;
            case AluaState.Standby:
                if ((descriptor.Flags & CommandFlags.AllowedInStandby) != 0)
                    return true;
                SenseData.SetCheckCondition(command, SenseCodes.TargetPortInStandbyState);
                return false;
            case AluaState.Transitioning:
                SenseData.SetCheckCondition(command, SenseCodes.AsymmetricAccessStateTransition);
                return false;
            default:
                SenseData.SetCheckCondition(command, SenseCodes.TargetPortInUnavailableState);
                return false;
        }
    }
}
