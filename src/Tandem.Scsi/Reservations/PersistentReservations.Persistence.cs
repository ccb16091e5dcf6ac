using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Tandem.Storage;

namespace Tandem.Scsi.Reservations;

/// <summary>
/// APTPL (SPC-4 §5.12.4): while the last registration asked to persist through power loss, the
/// registrations and reservation are saved atomically to <c>ReservationStatePath</c> after every
/// change and restored when the logical unit is created. When APTPL is cleared the file goes.
/// </summary>
public sealed partial class PersistentReservations
{
    private const int StateFormatVersion = 1;

    internal sealed record PersistedRegistration(string InitiatorName, ulong? Isid, ushort? RelativeTargetPortId, ulong Key);

    internal sealed record PersistedState(
        int Version,
        uint Generation,
        List<PersistedRegistration> Registrations,
        byte? ReservationType,
        int HolderIndex);

    [JsonSerializable(typeof(PersistedState))]
    [JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
    internal sealed partial class StateJsonContext : JsonSerializerContext;

    private void SaveIfPersistent()
    {
        if (_statePath is null)
            return;
        try
        {
            if (!_persistThroughPowerLoss)
            {
                if (File.Exists(_statePath))
                    File.Delete(_statePath);
                return;
            }
            var state = new PersistedState(
                StateFormatVersion,
                _generation,
                _registrations.Select(r => new PersistedRegistration(r.InitiatorName, r.Isid, r.RelativeTargetPortId, r.Key)).ToList(),
                _type is ReservationType t ? (byte)t : null,
                _holder is null ? -1 : _registrations.IndexOf(_holder));
            AtomicFile.WriteAllBytes(_statePath, JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.PersistedState));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The command already took effect in memory; losing persistence must be loud, not fatal.
            _logger.LogError(e, "Could not save persistent reservation state to {Path}", _statePath);
        }
    }

    private void Load(string path)
    {
        if (!File.Exists(path))
            return;
        try
        {
            var state = JsonSerializer.Deserialize(File.ReadAllBytes(path), StateJsonContext.Default.PersistedState)
                ?? throw new InvalidDataException("empty state");
            if (state.Version != StateFormatVersion)
                throw new InvalidDataException($"unknown format version {state.Version}");
            var registrations = new List<Registration>();
            foreach (var r in state.Registrations ?? [])
            {
                if (string.IsNullOrWhiteSpace(r.InitiatorName) || r.Key == 0)
                    throw new InvalidDataException("registration without initiator name or key");
                registrations.Add(new Registration(r.InitiatorName, r.Isid, r.RelativeTargetPortId, r.Key));
            }
            ReservationType? type = null;
            Registration? holder = null;
            if (state.ReservationType is byte t)
            {
                if (!ReservationTypes.IsValid(t))
                    throw new InvalidDataException($"invalid reservation type {t}");
                type = (ReservationType)t;
                if (!type.Value.IsAllRegistrants())
                {
                    if (state.HolderIndex < 0 || state.HolderIndex >= registrations.Count)
                        throw new InvalidDataException("reservation holder is not registered");
                    holder = registrations[state.HolderIndex];
                }
                else if (registrations.Count == 0)
                {
                    type = null;
                }
            }
            _registrations.AddRange(registrations);
            _generation = state.Generation;
            _type = type;
            _holder = holder;
            _persistThroughPowerLoss = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException or NotSupportedException)
        {
            // A damaged file must not take the logical unit down; start without reservations and say so.
            _logger.LogError(e, "Ignoring unreadable persistent reservation state in {Path}", path);
        }
    }
}
