using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tandem.Node.Api.Models;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Replication.Failover;

namespace Tandem.Node.Witness;

/// <summary>
/// The witness devices of this node (it is the third vote of two-node HA devices held elsewhere):
/// one <see cref="WitnessBallot"/> per HA device, keyed by the device's NAA identifier, each saved
/// in <c>witness/&lt;naa&gt;.json</c> before a changed decision is answered.
/// </summary>
/// <remarks>
/// Decisions of one device are serialized (its lock covers deciding and saving); devices do not wait
/// for each other. Time is a monotonic reading (never wall-clock, which can jump): a holder recorded
/// before a restart keeps the vote one whole lease from when this store was opened.
/// </remarks>
public sealed class WitnessStore
{
    private readonly string _directory;
    private readonly Func<TimeSpan> _clock;
    private readonly ILogger _log;
    private readonly Lock _table = new();
    private volatile ImmutableDictionary<string, WitnessDevice> _devices = ImmutableDictionary<string, WitnessDevice>.Empty;

    private WitnessStore(string directory, TimeSpan lease, Func<TimeSpan> clock, ILogger log)
    {
        _directory = directory;
        Lease = lease;
        _clock = clock;
        _log = log;
    }

    /// <summary>How long a granted vote holds on this witness.</summary>
    public TimeSpan Lease { get; }

    /// <summary>Opens (creating the folder) and loads every saved witness device.</summary>
    /// <param name="clock">Monotonic time; null: <see cref="Stopwatch"/>.</param>
    /// <exception cref="TandemException">config_error: a witness file cannot be read or trusted.</exception>
    public static WitnessStore Open(string directory, TimeSpan lease, ILogger log, Func<TimeSpan>? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        var store = new WitnessStore(directory, lease, clock ?? MonotonicClock(), log);
        try
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(directory);
            else
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"Cannot create the witness folder {directory}: {e.Message}", e);
        }

        var now = store._clock();
        var devices = ImmutableDictionary.CreateBuilder<string, WitnessDevice>();
        // AtomicFile's temporary files are hidden (".name.json.xxxx.tmp") and do not match.
        foreach (var path in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            var (naa, name, state) = WitnessDeviceFile.Read(path);
            devices.Add(naa, new WitnessDevice(naa, name, path, new WitnessBallot(state, lease, now)));
            if (state.Holder is { } holder)
                log.LogInformation("Witness device {Device} ({Naa}): replica {Holder} keeps the vote for {Lease} from this start", name, naa, holder, lease);
        }
        store._devices = devices.ToImmutable();
        return store;
    }

    public IReadOnlyList<WitnessDeviceDto> List() =>
        _devices.Values.OrderBy(d => d.Name, StringComparer.OrdinalIgnoreCase).ThenBy(d => d.Naa, StringComparer.Ordinal).Select(Describe).ToArray();

    public WitnessDeviceDto Get(string naaHex) => Describe(Find(naaHex));

    /// <summary>Creates the witness device of an HA device; the same NAA again is not an error (the device is returned as it is).</summary>
    /// <param name="created">False when it already existed.</param>
    /// <exception cref="TandemException">already_exists: another HA device has that name here.</exception>
    public WitnessDeviceDto Create(string naaHex, string deviceName, out bool created)
    {
        lock (_table)
        {
            if (_devices.TryGetValue(naaHex, out var existing))
            {
                created = false;
                return Describe(existing);
            }
            if (_devices.Values.FirstOrDefault(d => string.Equals(d.Name, deviceName, StringComparison.OrdinalIgnoreCase)) is { } clash)
                throw new TandemException(ErrorCodes.AlreadyExists,
                    $"This node already holds a witness device named '{clash.Name}', for another HA device ({clash.Naa}).");
            var path = WitnessDeviceFile.PathFor(_directory, naaHex);
            Save(path, naaHex, deviceName, WitnessBallotState.Empty);
            var device = new WitnessDevice(naaHex, deviceName, path, new WitnessBallot(null, Lease, _clock()));
            _devices = _devices.Add(naaHex, device);
            created = true;
            _log.LogInformation("Witness device {Device} ({Naa}) created", deviceName, naaHex);
            return Describe(device);
        }
    }

    /// <summary>Forgets a witness device (its HA device no longer uses this witness).</summary>
    public void Remove(string naaHex)
    {
        lock (_table)
        {
            var device = Find(naaHex);
            lock (device.Sync)
            {
                try
                {
                    File.Delete(device.Path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new TandemException(ErrorCodes.IoError, $"Cannot delete witness device file {device.Path}: {e.Message}", e);
                }
                device.Removed = true;
            }
            _devices = _devices.Remove(naaHex);
            _log.LogInformation("Witness device {Device} ({Naa}) removed", device.Name, naaHex);
        }
    }

    /// <summary>Decides a data node's request; a changed decision is on disk before this returns.</summary>
    public WitnessAnswer Vote(string naaHex, WitnessRequest request)
    {
        var (name, answer, changed) = Change(naaHex, (ballot, now) =>
        {
            var answer = ballot.Decide(request, now, out bool changed);
            return (answer, changed);
        });
        if (answer.Verdict == WitnessVerdict.Granted && changed)
            _log.LogInformation("Witness device {Device}: vote granted to replica {Node}, which moves to generation {Generation}",
                name, request.NodeId, request.NextGeneration);
        else if (answer.Verdict != WitnessVerdict.Granted)
            _log.LogInformation("Witness device {Device}: vote refused to replica {Node}: {Reason}", name, request.NodeId, answer.Reason);
        return answer;
    }

    /// <summary>The holder gives the vote back (it reaches its partner again).</summary>
    public WitnessDeviceDto Release(string naaHex, int nodeId)
    {
        var (name, released, changed) = Change(naaHex, (ballot, _) =>
        {
            ballot.Release(nodeId, out bool changed);
            return (ballot.State, changed);
        });
        if (changed)
            _log.LogInformation("Witness device {Device}: replica {Node} released the vote", name, nodeId);
        return new WitnessDeviceDto(name, naaHex, released.Holder, released.Generation, released.LastHolder);
    }

    /// <summary>Runs one decision of a device under its lock, saving the ballot before anyone hears of a change.</summary>
    private (string Device, T Result, bool Changed) Change<T>(string naaHex, Func<WitnessBallot, TimeSpan, (T Result, bool Changed)> decide)
    {
        var device = Find(naaHex);
        lock (device.Sync)
        {
            if (device.Removed)
                throw NotFound(device.Naa);
            var before = device.Ballot.State;
            var now = _clock();
            var (result, changed) = decide(device.Ballot, now);
            if (changed)
                SaveOrRestore(device, before, now);
            return (device.Name, result, changed);
        }
    }

    /// <summary>
    /// Saves a changed ballot; when that fails the decision is taken back (the ballot reloaded from
    /// what is on disk, its holder keeping a whole lease, the safe side) and nothing is answered.
    /// </summary>
    private void SaveOrRestore(WitnessDevice device, WitnessBallotState before, TimeSpan now)
    {
        try
        {
            Save(device.Path, device.Naa, device.Name, device.Ballot.State);
        }
        catch
        {
            device.Ballot = new WitnessBallot(before, Lease, now);
            throw;
        }
    }

    private static void Save(string path, string naaHex, string deviceName, WitnessBallotState state)
    {
        try
        {
            WitnessDeviceFile.Write(path, naaHex, deviceName, state);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.IoError, $"Cannot save witness device file {path}: {e.Message}", e);
        }
    }

    private WitnessDevice Find(string naaHex) =>
        _devices.TryGetValue(naaHex, out var device) ? device : throw NotFound(naaHex);

    private static TandemException NotFound(string naaHex) =>
        TandemException.NotFound($"Witness device for NAA {Names.Printable(naaHex)}");

    private static WitnessDeviceDto Describe(WitnessDevice device)
    {
        lock (device.Sync)
        {
            var state = device.Ballot.State;
            return new WitnessDeviceDto(device.Name, device.Naa, state.Holder, state.Generation, state.LastHolder);
        }
    }

    private static Func<TimeSpan> MonotonicClock()
    {
        long start = Stopwatch.GetTimestamp();
        return () => Stopwatch.GetElapsedTime(start);
    }

    private sealed class WitnessDevice(string naa, string name, string path, WitnessBallot ballot)
    {
        public string Naa { get; } = naa;
        public string Name { get; } = name;
        public string Path { get; } = path;
        public Lock Sync { get; } = new();

        /// <summary>Replaced only when a save failed (under <see cref="Sync"/>).</summary>
        public WitnessBallot Ballot { get; set; } = ballot;

        public bool Removed { get; set; }
    }
}
