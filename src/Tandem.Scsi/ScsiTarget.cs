using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Scsi.Cdb;
using Tandem.Scsi.Commands;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi;

/// <summary>
/// A SCSI target device: a map of LUNs to logical units. Routes commands, answers REPORT LUNS,
/// INQUIRY and REQUEST SENSE for LUNs that have no logical unit, and turns transport events
/// (nexus loss, resets, CLEAR TASK SET) into their SCSI effects.
/// </summary>
public sealed class ScsiTarget : IScsiTarget
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<ITNexus, byte> _nexuses = new();
    private volatile FrozenDictionary<ulong, ScsiLogicalUnit> _units = FrozenDictionary<ulong, ScsiLogicalUnit>.Empty;

    public ScsiTarget(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
    }

    public IReadOnlyCollection<ulong> Luns => _units.Keys;

    /// <summary>Attaches a logical unit at <paramref name="lun"/>; throws if the LUN is taken.</summary>
    public void AddLogicalUnit(ulong lun, ScsiLogicalUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        // SAM-5 flat space addressing reaches 16383; that is all REPORT LUNS can encode here.
        if (lun > 0x3FFF)
            throw new ArgumentOutOfRangeException(nameof(lun), lun, "LUN must be at most 16383");
        lock (_lock)
        {
            if (_units.ContainsKey(lun))
                throw new InvalidOperationException($"LUN {lun} already has a logical unit");
            var units = new Dictionary<ulong, ScsiLogicalUnit>(_units) { [lun] = unit };
            unit.LunProvider = () => Luns;
            foreach (var nexus in _nexuses.Keys)
                unit.OnNexusCreated(nexus);
            _units = units.ToFrozenDictionary();
            RaiseReportedLunsChanged(except: unit);
        }
    }

    /// <summary>Detaches the logical unit at <paramref name="lun"/>; false if there was none.</summary>
    public bool RemoveLogicalUnit(ulong lun)
    {
        lock (_lock)
        {
            if (!_units.ContainsKey(lun))
                return false;
            var units = new Dictionary<ulong, ScsiLogicalUnit>(_units);
            units.Remove(lun);
            _units = units.ToFrozenDictionary();
            RaiseReportedLunsChanged(except: null);
            return true;
        }
    }

    /// <summary>The logical unit at a LUN, or null.</summary>
    public ScsiLogicalUnit? GetLogicalUnit(ulong lun) => _units.GetValueOrDefault(lun);

    public ValueTask ExecuteAsync(ScsiCommand command, CancellationToken abort = default)
    {
        command.Status = ScsiStatus.Good;
        command.TransferLength = 0;
        command.SetSenseLength(0);
        if (command.CdbLength == 0)
        {
            SenseData.SetCheckCondition(command, SenseCodes.InvalidCommandOperationCode);
            return ValueTask.CompletedTask;
        }

        ValueTask pending;
        try
        {
            if (!_units.TryGetValue(command.Lun, out var unit))
            {
                ExecuteWithoutUnit(command);
                return ValueTask.CompletedTask;
            }
            if (command.Cdb[0] == OperationCode.ReportLuns)
            {
                ReportLuns.Execute(Luns, command);
                if (command.Status == ScsiStatus.Good)
                    unit.GetNexusState(command.Nexus).Clear(SenseCodes.ReportedLunsDataHasChanged); // SPC-4 §6.33
                return ValueTask.CompletedTask;
            }
            pending = unit.ExecuteAsync(command, abort);
        }
        catch (Exception e)
        {
            SenseMapper.Apply(command, e, abort.IsCancellationRequested, _logger);
            return ValueTask.CompletedTask;
        }
        return pending.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitAsync(pending, command, abort);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitAsync(ValueTask pending, ScsiCommand command, CancellationToken abort)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SenseMapper.Apply(command, e, abort.IsCancellationRequested, _logger);
        }
    }

    /// <summary>SPC-4 §4.6.1 / SAM-5 §5.9: commands addressed to a LUN with no logical unit.</summary>
    private void ExecuteWithoutUnit(ScsiCommand command)
    {
        byte opcode = command.Cdb[0];
        if (opcode is OperationCode.Inquiry or OperationCode.ReportLuns or OperationCode.RequestSense
            && command.CdbLength < CdbReader.ExpectedLength(opcode))
        {
            SenseData.SetCheckCondition(command, SenseCodes.InvalidFieldInCdb, fieldPointer: FieldPointer.Cdb(0));
            return;
        }
        switch (opcode)
        {
            case OperationCode.Inquiry:
                Inquiry.ExecuteForMissingUnit(command);
                break;
            case OperationCode.ReportLuns:
                ReportLuns.Execute(Luns, command);
                break;
            case OperationCode.RequestSense:
                RequestSense.ExecuteForMissingUnit(command);
                break;
            default:
                SenseData.SetCheckCondition(command, SenseCodes.LogicalUnitNotSupported);
                break;
        }
    }

    public void NexusCreated(ITNexus nexus)
    {
        ArgumentNullException.ThrowIfNull(nexus);
        // A new nexus starts without a power-on unit attention: libiscsi, Linux and ESXi all
        // log in and expect their first command to succeed, and SAM-5 lets a target report
        // POWER ON only to nexuses that existed when the event happened.
        _nexuses.TryAdd(nexus, 0);
        foreach (var unit in _units.Values)
            unit.OnNexusCreated(nexus);
    }

    public void NexusLost(ITNexus nexus)
    {
        ArgumentNullException.ThrowIfNull(nexus);
        _nexuses.TryRemove(nexus, out _);
        foreach (var unit in _units.Values)
            unit.OnNexusLost(nexus);
    }

    public ValueTask LogicalUnitResetAsync(ulong lun, ITNexus requester) =>
        _units.TryGetValue(lun, out var unit) ? unit.OnResetAsync(requester, includeRequester: true) : ValueTask.CompletedTask;

    public async ValueTask TargetResetAsync(ITNexus requester)
    {
        foreach (var unit in _units.Values)
            await unit.OnResetAsync(requester, includeRequester: false).ConfigureAwait(false);
    }

    public void TasksClearedByAnotherInitiator(ulong lun, ITNexus requester, ITNexus victim)
    {
        if (_units.TryGetValue(lun, out var unit) && !victim.Equals(requester))
            unit.OnTasksCleared(victim);
    }

    private void RaiseReportedLunsChanged(ScsiLogicalUnit? except)
    {
        foreach (var unit in _units.Values)
        {
            if (!ReferenceEquals(unit, except))
                unit.RaiseUnitAttention(SenseCodes.ReportedLunsDataHasChanged, except: null);
        }
    }
}
