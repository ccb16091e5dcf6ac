using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Node.Errors;
using Tandem.Node.Witness;
using Tandem.Replication.Failover;

namespace Tandem.Node.Tests.Witness;

/// <summary>
/// WitnessStore on a real folder with a hand-driven clock: decisions are saved before they are answered,
/// and a restart keeps both the recorded generation (a stale node stays out) and the holder's lease.
/// </summary>
public sealed class WitnessStoreTests : IDisposable
{
    private const string Naa = "6a5d0e0123456789abcdef0123456789";
    private const string G1 = "1111111111111111";
    private const string G2 = "2222222222222222";
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);

    private readonly TempDirectory _dir = new();
    private TimeSpan _now = TimeSpan.FromHours(1);

    private string Folder => _dir.Combine("witness");

    private WitnessStore Open() => WitnessStore.Open(Folder, Lease, NullLogger.Instance, () => _now);

    /// <summary>Replica <paramref name="node"/> at generation <paramref name="from"/> asks for the vote to move to <paramref name="to"/>.</summary>
    private static WitnessRequest Ask(int node, string from, string? to = null, params string[] history) => new(node, from, history, to ?? from);

    [Fact]
    public void A_grant_is_on_disk_before_it_is_answered()
    {
        var store = Open();
        store.Create(Naa, "d1", out bool created);
        Assert.True(created);
        Assert.Equal(WitnessVerdict.Granted, store.Vote(Naa, Ask(1, G1, G2)).Verdict);

        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, Naa + ".json")));
        Assert.Equal(Naa, saved.RootElement.GetProperty("naa").GetString());
        Assert.Equal("d1", saved.RootElement.GetProperty("device").GetString());
        Assert.Equal(1, saved.RootElement.GetProperty("holder").GetInt32());
        Assert.Equal(G2, saved.RootElement.GetProperty("generation").GetString());
        Assert.Equal(1, saved.RootElement.GetProperty("lastHolder").GetInt32());
        // Written through a temporary file that is gone once renamed.
        Assert.Equal([Naa + ".json"], Directory.GetFiles(Folder).Select(Path.GetFileName));
    }

    [Fact]
    public void A_stale_node_is_refused_after_a_witness_restart()
    {
        var store = Open();
        store.Create(Naa, "d1", out _);
        Assert.Equal(WitnessVerdict.Granted, store.Vote(Naa, Ask(1, G1, G2)).Verdict);
        store.Release(Naa, 1);

        _now += TimeSpan.FromDays(1);
        var restarted = Open();
        var device = Assert.Single(restarted.List());
        Assert.Null(device.Holder);
        Assert.Equal(G2, device.Generation);
        Assert.Equal(1, device.LastHolder);

        // Replica 2 stayed at G1 while replica 1 continued alone: it must never get the vote.
        var stale = restarted.Vote(Naa, Ask(2, G1, "3333333333333333"));
        Assert.Equal(WitnessVerdict.Refused, stale.Verdict);
        Assert.Contains("older than generation " + G2, stale.Reason);
        // Once synchronized (G2 in its history) it may.
        Assert.Equal(WitnessVerdict.Granted, restarted.Vote(Naa, Ask(2, "4444444444444444", null, G2, G1)).Verdict);
    }

    [Fact]
    public void A_holder_keeps_its_lease_a_whole_lease_from_the_restart()
    {
        var store = Open();
        store.Create(Naa, "d1", out _);
        Assert.Equal(WitnessVerdict.Granted, store.Vote(Naa, Ask(1, G1)).Verdict);

        // Long after that lease ran out on the old clock, the witness restarts (its clock restarts too).
        _now = TimeSpan.FromSeconds(5);
        var restarted = Open();
        _now += Lease - TimeSpan.FromMilliseconds(1);
        var refused = restarted.Vote(Naa, Ask(2, G1));
        Assert.Equal(WitnessVerdict.Refused, refused.Verdict);
        Assert.Contains("votes for replica 1", refused.Reason);

        _now += TimeSpan.FromMilliseconds(1);
        var granted = restarted.Vote(Naa, Ask(2, G1));
        Assert.Equal(WitnessVerdict.Granted, granted.Verdict);
        Assert.Equal(Lease, granted.Lease);
        Assert.Equal(2, Open().Get(Naa).Holder);
    }

    [Fact]
    public void Release_is_saved_and_only_the_holder_can_release()
    {
        var store = Open();
        store.Create(Naa, "d1", out _);
        store.Vote(Naa, Ask(1, G1));
        Assert.Equal(1, store.Release(Naa, 2).Holder);
        Assert.Null(store.Release(Naa, 1).Holder);
        Assert.Null(Open().Get(Naa).Holder);
        Assert.Equal(WitnessVerdict.Granted, store.Vote(Naa, Ask(2, G1)).Verdict);
    }

    [Fact]
    public void Create_is_idempotent_per_naa_and_refuses_a_name_of_another_device()
    {
        var store = Open();
        store.Create(Naa, "d1", out _);
        store.Vote(Naa, Ask(1, G1));
        var again = store.Create(Naa, "d1", out bool created);
        Assert.False(created);
        Assert.Equal(1, again.Holder);

        var clash = Assert.Throws<TandemException>(() => store.Create("6a5d0e00000000000000000000000000", "D1", out _));
        Assert.Equal(ErrorCodes.AlreadyExists, clash.Code);
        Assert.Single(store.List());
    }

    [Fact]
    public void Remove_deletes_the_file_and_unknown_devices_are_not_found()
    {
        var store = Open();
        store.Create(Naa, "d1", out _);
        store.Remove(Naa);
        Assert.Empty(Directory.GetFiles(Folder));
        Assert.Empty(Open().List());
        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<TandemException>(() => store.Vote(Naa, Ask(1, G1))).Code);
        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<TandemException>(() => store.Release(Naa, 1)).Code);
        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<TandemException>(() => store.Remove(Naa)).Code);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"naa":"6a5d0e00000000000000000000000000","device":"d1"}""")]
    [InlineData("""{"naa":"6a5d0e0123456789abcdef0123456789","device":""}""")]
    [InlineData("""{"naa":"6a5d0e0123456789abcdef0123456789","device":"d1","holder":4}""")]
    [InlineData("""{"naa":"6a5d0e0123456789abcdef0123456789","device":"d1","generation":"xyz"}""")]
    public void A_witness_file_that_cannot_be_trusted_stops_the_start(string content)
    {
        Directory.CreateDirectory(Folder);
        File.WriteAllText(Path.Combine(Folder, Naa + ".json"), content);
        var e = Assert.Throws<TandemException>(Open);
        Assert.Equal(ErrorCodes.ConfigError, e.Code);
        Assert.Contains(Naa + ".json", e.Message);
    }

    [Fact]
    public void A_left_over_temporary_file_is_ignored()
    {
        Open().Create(Naa, "d1", out _);
        File.WriteAllText(Path.Combine(Folder, $".{Naa}.json.0123456789ab.tmp"), "half written");
        Assert.Single(Open().List());
    }

    [Fact]
    public async Task Concurrent_requests_of_both_nodes_grant_one()
    {
        var store = Open();
        store.Create(Naa, "d1", out _);
        using var start = new ManualResetEventSlim();
        var asks = Enumerable.Range(0, 20).Select(i => Task.Run(() =>
        {
            start.Wait();
            return (Node: 1 + i % 2, store.Vote(Naa, Ask(1 + i % 2, G1)).Verdict);
        })).ToArray();
        start.Set();
        var answers = await Task.WhenAll(asks);
        var winners = answers.Where(a => a.Verdict == WitnessVerdict.Granted).Select(a => a.Node).Distinct();
        Assert.Single(winners);
        Assert.Equal(winners.Single(), Open().Get(Naa).Holder);
    }

    public void Dispose() => _dir.Dispose();
}
