namespace Tandem.Replication.Tests.Simulation;

/// <summary>Shape of a simulated replica set and workload, and switches that break the protocol on
/// purpose (to prove the checks can fail).</summary>
internal sealed record SimulatorOptions
{
    public int NodeCount { get; init; } = 3;

    /// <summary>Device size in blocks (at most 64: traces describe a write's applied blocks as a bit mask).</summary>
    public int BlockCount { get; init; } = 64;

    /// <summary>Most writes start in the first blocks, so that concurrent writes overlap often.</summary>
    public int HotBlocks { get; init; } = 16;

    public int MaxWriteBlocks { get; init; } = 8;

    /// <summary>
    /// Stamping and sending a write are separate events (as in a real node, where the write is sent
    /// after the local write and the range unlock), so heartbeats and replies may be sent in between.
    /// The clock they carry is then held below the oldest unsent stamp, unless
    /// <see cref="CarryRawClock"/>.
    /// </summary>
    public bool DeferredSend { get; init; }

    /// <summary>Broken on purpose (with <see cref="DeferredSend"/>): messages carry the raw clock even
    /// while a write stamped below it is not sent yet.</summary>
    public bool CarryRawClock { get; init; }

    /// <summary>Broken on purpose: apply every peer's write whole, ignoring the stamp map.</summary>
    public bool DisableStampMap { get; init; }

    /// <summary>Broken on purpose: when a write completes its origin sends FORGET(s) and receivers drop
    /// in-flight entries up to s.Lamport (forgetting on the writer's acknowledgement instead of watermarks).</summary>
    public bool ForgetOnCompletion { get; init; }

    public override string ToString()
    {
        var flags = new List<string>();
        if (DeferredSend) flags.Add(nameof(DeferredSend));
        if (CarryRawClock) flags.Add(nameof(CarryRawClock));
        if (DisableStampMap) flags.Add(nameof(DisableStampMap));
        if (ForgetOnCompletion) flags.Add(nameof(ForgetOnCompletion));
        return $"nodes={NodeCount} blocks={BlockCount} hot={HotBlocks} maxWrite={MaxWriteBlocks}" +
            (flags.Count > 0 ? " " + string.Join(' ', flags) : "");
    }
}
