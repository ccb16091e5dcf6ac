using System.Text.Json;
using System.Text.Json.Serialization;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Reservations;

/// <summary>The whole reservation state as one node hands it to its HA partners.</summary>
public sealed partial class PersistentReservations
{
    internal sealed record SharedNexus(string InitiatorName, ulong Isid, string TargetName, ushort PortalGroupTag, ushort RelativeTargetPortId, ushort TargetPortGroupId);

    /// <summary>A unit attention raised for some registrations, replayed on the partners for their own nexuses.</summary>
    internal sealed record SharedEvent(List<PersistedRegistration> Registrations, byte Key, byte Asc, byte Ascq);

    internal sealed record SharedState(
        uint Generation,
        List<PersistedRegistration> Registrations,
        byte? ReservationType,
        int HolderIndex,
        bool PersistThroughPowerLoss,
        SharedNexus? Spc2Holder,
        List<SharedEvent> Events);

    [JsonSerializable(typeof(SharedState))]
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
    internal sealed partial class SharedJsonContext : JsonSerializerContext;

    private readonly List<SharedEvent> _events = [];

    /// <summary>The current state, with the unit attentions raised since the last export.</summary>
    public byte[] ExportState()
    {
        lock (_lock)
        {
            var state = new SharedState(
                _generation,
                _registrations.Select(ToPersisted).ToList(),
                _type is ReservationType t ? (byte)t : null,
                _holder is null ? -1 : _registrations.IndexOf(_holder),
                _persistThroughPowerLoss,
                _spc2Holder is { } n ? new SharedNexus(n.InitiatorName, n.Isid, n.TargetName, n.PortalGroupTag, n.RelativeTargetPortId, n.TargetPortGroupId) : null,
                [.. _events]);
            _events.Clear();
            return JsonSerializer.SerializeToUtf8Bytes(state, SharedJsonContext.Default.SharedState);
        }
    }

    /// <summary>Replaces the state with a partner's and raises its unit attentions for this node's nexuses.</summary>
    /// <exception cref="InvalidDataException">The state is malformed (nothing changes).</exception>
    public void ImportState(ReadOnlySpan<byte> json)
    {
        SharedState state;
        try
        {
            state = JsonSerializer.Deserialize(json, SharedJsonContext.Default.SharedState) ?? throw new InvalidDataException("empty reservation state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Malformed reservation state: {e.Message}", e);
        }
        var registrations = (state.Registrations ?? []).Select(r => new Registration(r.InitiatorName, r.Isid, r.RelativeTargetPortId, r.Key)).ToList();
        ReservationType? type = state.ReservationType is byte t && ReservationTypes.IsValid(t) ? (ReservationType)t : null;
        Registration? holder = null;
        if (type is { } rt && !rt.IsAllRegistrants())
        {
            if (state.HolderIndex < 0 || state.HolderIndex >= registrations.Count)
                throw new InvalidDataException("Reservation holder is not registered.");
            holder = registrations[state.HolderIndex];
        }
        lock (_lock)
        {
            _registrations.Clear();
            _registrations.AddRange(registrations);
            _generation = state.Generation;
            _type = type;
            _holder = holder;
            _persistThroughPowerLoss = state.PersistThroughPowerLoss;
            _spc2Holder = state.Spc2Holder is { } n ? new ITNexus(n.InitiatorName, n.Isid, n.TargetName, n.PortalGroupTag, n.RelativeTargetPortId, n.TargetPortGroupId) : null;
            foreach (var e in state.Events ?? [])
            {
                var code = new SenseCode((SenseKey)e.Key, e.Asc, e.Ascq);
                RaiseLocally(e.Registrations.Select(r => new Registration(r.InitiatorName, r.Isid, r.RelativeTargetPortId, r.Key)).ToArray(), code, except: null);
            }
            Publish();
            SaveIfPersistent();
        }
    }

    private static PersistedRegistration ToPersisted(Registration r) => new(r.InitiatorName, r.Isid, r.RelativeTargetPortId, r.Key);

    /// <summary>Remembers a unit attention for the partners (only when reservations are shared).</summary>
    private void RecordEvent(IEnumerable<Registration> registrations, SenseCode code)
    {
        if (_unit.Options.ReservationSharing is null)
            return;
        _events.Add(new SharedEvent(registrations.Select(ToPersisted).ToList(), (byte)code.Key, code.Asc, code.Ascq));
    }
}
