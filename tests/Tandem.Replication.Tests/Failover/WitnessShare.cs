using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Replication.Failover;

namespace Tandem.Replication.Tests.Failover;

/// <summary>A witness folder for one test, and the data nodes' side of asking it.</summary>
internal sealed class WitnessShare : IDisposable
{
    public const string Device = "6001405aa1b2c3d4";
    public static readonly TimeSpan Lease = TimeSpan.FromMilliseconds(400);

    private readonly TempDirectory? _temp;

    /// <param name="parent">Where to make the share folder (a real NFS or SMB mount); the temp folder by default.</param>
    public WitnessShare(string? parent = null, bool provision = true)
    {
        _temp = new TempDirectory(parent);
        Path = _temp.Path;
        if (provision)
            FileShareWitness.Provision(Path, Device);
    }

    public string Path { get; }

    public string DeviceFolder => System.IO.Path.Combine(Path, "tandem-witness-" + Device);

    public string Record(long sequence) => System.IO.Path.Combine(DeviceFolder, $"{sequence:D20}.record");

    public long[] Records() =>
        [.. Directory.EnumerateFiles(DeviceFolder, "*.record").Select(f => long.Parse(System.IO.Path.GetFileNameWithoutExtension(f))).Order()];

    /// <summary>A data node's witness instance (a new one is what a restart makes).</summary>
    public FileShareWitness Open(TimeSpan? lease = null, int keepRecords = 64, TimeSpan? ioTimeout = null) =>
        new(Path, Device, lease ?? Lease, NullLogger.Instance, ioTimeout ?? FileShareWitness.IoTimeout, keepRecords);

    public static WitnessRequest Ask(int node, string generation, string? next = null, IReadOnlyList<string>? history = null, bool force = false) =>
        new(node, generation, history ?? [], next ?? generation, force);

    public static Task<WitnessAnswer> VoteAsync(IWitness witness, int node, string generation, string? next = null, IReadOnlyList<string>? history = null, bool force = false) =>
        witness.RequestVoteAsync(Ask(node, generation, next, history, force), CancellationToken.None);

    /// <summary>Asks every quarter lease until granted or <paramref name="limit"/> passes; the last answer.</summary>
    public static async Task<WitnessAnswer> VoteUntilGrantedAsync(IWitness witness, int node, string generation, TimeSpan limit, string? next = null, IReadOnlyList<string>? history = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var answer = await VoteAsync(witness, node, generation, next, history);
            if (answer.Verdict == WitnessVerdict.Granted || clock.Elapsed > limit)
                return answer;
            await Task.Delay(Lease / WitnessLease.RenewalsPerLease);
        }
    }

    public void Dispose() => _temp?.Dispose();
}
