using System.Diagnostics;
using System.Text.Json;
using Tandem.Interop.Tests.Infrastructure;
using Tandem.Interop.Tests.Infrastructure.Lab;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// HA devices on real nodes in network namespaces (<see cref="NetworkLab"/>): initiators, API and
/// CLI on the client network, replication on the sync network (checked on the sockets), heartbeat
/// channels on their own network; links cut silently or unplugged, nodes killed and restarted
/// inside their namespaces. These run the default failover strategy, heartbeat with priorities
/// (node 1 priority 1, partners 2: node 1 outranks both, node 2 outranks node 3 on the id);
/// the node-majority tests have their own class.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class HaNetworkLabTests(ITestOutputHelper output)
{
    // ALUA asymmetric access states in REPORT TARGET PORT GROUPS.
    private const int ActiveOptimized = 0;
    private const int Unavailable = 3;

    /// <summary>
    /// docs/design/failover.md: a node that loses every sync channel blocks within one link
    /// timeout plus one heartbeat probe; the node that goes on completes no write without it
    /// before that (it waits for the fence to be answered).
    /// </summary>
    private static readonly TimeSpan BlockedWithin = TimeSpan.FromSeconds(5 + 2 + 3);

    [NetworkLabFact]
    public async Task Heartbeat_sync_cut_with_the_heartbeat_up_the_lower_priority_node_blocks_and_returns_by_a_fast_sync_without_a_split_brain()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(2, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-cut", 32L << 20, output);
        var (a, b) = (set[1], set[2]);
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[1], listener: lab[2]);
        await set.AssertHeartbeatRunsOnHeartbeatNetworkAsync(dialer: lab[1], listener: lab[2]);
        var replicas = await set.ReplicasAsync(a);
        var partner = LabReplicaSet.NodeView(replicas, 2);
        Assert.Equal([lab[2].SyncChannel], LabReplicaSet.Strings(partner, "syncChannels"));
        Assert.Equal([lab[2].HeartbeatChannel], LabReplicaSet.Strings(partner, "heartbeatChannels"));
        Assert.Equal(1, partner.GetProperty("heartbeatsUp").GetInt32());
        var failover = replicas.GetProperty("failover");
        Assert.Equal("heartbeat", failover.GetProperty("strategy").GetString());
        // One heartbeat channel: the product says two independent ones are needed.
        Assert.Contains(failover.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("heartbeat channel"));

        await using var session = await set.LoginAsync(lab[1], "cut");
        await using var viaB = await set.LoginAsync(lab[2], "cut-b");
        var writes = new AcknowledgedWrites(session, (32L << 20) / LabReplicaSet.BlockSize);
        await writes.WriteAsync(50);

        // Cut A-B on the sync network; the heartbeat network stays up. The next write through A
        // waits for the link timeout, then for B to confirm it stopped serving.
        await lab.CutAsync(lab[1], lab[2], LabNetwork.Sync);
        int sinceCut = writes.Count;
        var stalled = await writes.WriteOneAsync();
        output.WriteLine($"first write after the cut took {stalled.TotalSeconds:0.0} s");
        Assert.InRange(stalled, TimeSpan.FromSeconds(3), BlockedWithin);
        // That write completed without B, so B had stopped serving before it did.
        Assert.False(await set.ServesAsync(b), (await set.ReplicasAsync(b)).ToString());
        Assert.Equal("not-synchronized", await set.OwnStateAsync(b));
        var refused = await HaFailoverTests.RetryOnUnitAttentionAsync(() => viaB.Read10Async(0, 8, LabReplicaSet.BlockSize));
        Assert.True(refused.SenseKey == 2, $"a read through the blocked node B: {refused}"); // NOT READY
        await writes.WriteAsync(49);

        // A reports B lost and unavailable, with exactly the extents written since the cut marked.
        var seenByA = LabReplicaSet.NodeView(await set.ReplicasAsync(a), 2);
        Assert.Equal("not-synchronized", seenByA.GetProperty("state").GetString());
        Assert.False(seenByA.GetProperty("connected").GetBoolean(), seenByA.ToString());
        Assert.Equal(1, seenByA.GetProperty("heartbeatsUp").GetInt32());
        long dirty = seenByA.GetProperty("dirtyBytes").GetInt64();
        Assert.Equal(writes.ExtentBytesSince(sinceCut), dirty);
        Assert.Equal([(1, ActiveOptimized), (2, Unavailable)], await HaFailoverTests.ReportGroupsAsync(session));
        // B stopped because A outranks it: on its own finding (A's heartbeat answers) or A's fence.
        Assert.Contains("outranks", b.Log[b.Log.IndexOf("sync channel to replica 1 is down", StringComparison.Ordinal)..]);

        // Heal: B returns through a fast sync of exactly what it missed; no split brain.
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Sync);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-cut", 60);
        var lastSync = LabReplicaSet.NodeView(await set.ReplicasAsync(a), 2).GetProperty("lastSync");
        output.WriteLine($"after the heal: {lastSync}");
        Assert.Equal("fast", lastSync.GetProperty("kind").GetString());
        Assert.Equal(dirty, lastSync.GetProperty("bytesDone").GetInt64());
        Assert.DoesNotContain("SPLIT BRAIN", a.Log + b.Log);
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[1], listener: lab[2]);

        await set.AssertIdenticalAsync(a);
        await using var viaBAgain = await set.LoginAsync(lab[2], "cut-b2");
        await writes.ReadBackThroughAsync(viaBAgain);
    }

    [NetworkLabFact]
    public async Task Heartbeat_every_channel_cut_both_nodes_serve_with_a_warning_and_the_heal_reports_a_split_brain_that_keeps_both_sides_data()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(2, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-blackout", 32L << 20, output);
        var (a, b) = (set[1], set[2]);
        long blocks = (32L << 20) / LabReplicaSet.BlockSize;
        using var copies = new TempDirectory();
        await using var viaA = await set.LoginAsync(lab[1], "blackout-a");
        await using var viaB = await set.LoginAsync(lab[2], "blackout-b");
        var writesA = new AcknowledgedWrites(viaA, blocks / 2);
        var writesB = new AcknowledgedWrites(viaB, blocks, firstBlock: blocks / 2);
        await writesA.WriteAsync(20);
        await writesB.WriteAsync(20);

        await lab.CutAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.CutAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        // Each side finds every channel gone and goes on alone: the documented split-brain risk.
        await Task.WhenAll(
            writesA.WriteOneThroughFailoverAsync(TimeSpan.FromSeconds(20)),
            writesB.WriteOneThroughFailoverAsync(TimeSpan.FromSeconds(20)));
        await writesA.WriteAsync(20);
        await writesB.WriteAsync(20);
        Assert.True(await set.ServesAsync(a) && await set.ServesAsync(b));
        Assert.Contains("SPLIT-BRAIN RISK", a.Log);
        Assert.Contains("SPLIT-BRAIN RISK", b.Log);
        var warnings = (await set.ReplicasAsync(a)).GetProperty("failover").GetProperty("warnings");
        Assert.True(warnings.GetArrayLength() > 0, warnings.ToString());
        var cli = await set.CliAsync(a, "replica", "list", "lab-blackout");
        Assert.Contains("Warning:", cli.StdOut);

        // Heal: reported as a split brain on both sides, never merged.
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        await set.WaitUntilAsync("both report the split brain", async () =>
            await set.OwnStateAsync(a) == "split-brain" && await set.OwnStateAsync(b) == "split-brain");
        await Task.Delay(2000);
        Assert.Equal("split-brain", await set.OwnStateAsync(a));
        Assert.Equal("split-brain", await set.OwnStateAsync(b));
        // Each side's copy still holds everything acknowledged through it.
        writesA.AssertInImage(CopyOfImage(a, "lab-blackout", copies));
        writesB.AssertInImage(CopyOfImage(b, "lab-blackout", copies));

        // The administrator picks A: B is copied in full from it.
        await a.PostJsonAsync("api/v1/devices/lab-blackout/mark-synchronized", null);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-blackout", 60);
        await set.AssertIdenticalAsync(a);
        await using var viaBAgain = await set.LoginAsync(lab[2], "blackout-b2");
        await writesA.ReadBackThroughAsync(viaBAgain);
    }

    [NetworkLabFact]
    public async Task Three_way_node_unplugged_from_the_sync_network_yields_to_the_others_and_returns_by_a_fast_sync()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(3, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-three", 16L << 20, output);
        var (one, two, three) = (set[1], set[2], set[3]);
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[1], listener: lab[2]);
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[1], listener: lab[3]);
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[2], listener: lab[3]);
        // Channels on networks of their own went to the partners in --partner order.
        var replicas = await set.ReplicasAsync(one);
        foreach (int id in new[] { 2, 3 })
        {
            Assert.Equal([lab[id].SyncChannel], LabReplicaSet.Strings(LabReplicaSet.NodeView(replicas, id), "syncChannels"));
            Assert.Equal([lab[id].HeartbeatChannel], LabReplicaSet.Strings(LabReplicaSet.NodeView(replicas, id), "heartbeatChannels"));
        }

        await using var session = await set.LoginAsync(lab[1], "three");
        var writes = new AcknowledgedWrites(session, (16L << 20) / LabReplicaSet.BlockSize);
        await writes.WriteAsync(50);
        var initialSyncs = await LastSyncsOfNode3Async(set);

        // Node 3 loses its sync cable: both of its links die, the 1-2 link does not. Its heartbeat
        // still answers, and both others outrank it: it stops, they serve on together.
        await lab.UnplugAsync(lab[3], LabNetwork.Sync);
        var stalled = await writes.WriteOneAsync();
        output.WriteLine($"first write after the cable was pulled took {stalled.TotalSeconds:0.0} s");
        Assert.InRange(stalled, TimeSpan.FromSeconds(3), BlockedWithin);
        Assert.False(await set.ServesAsync(three));
        await set.WaitUntilAsync("nodes 1 and 2 serve on together without node 3", async () =>
        {
            if (!await SurvivorsSettledAsync(set))
                return false;
            await Task.Delay(500); // and still so half a second later: no resynchronization between them under way
            return await SurvivorsSettledAsync(set);
        });
        int settled = writes.Count;
        await writes.WriteAsync(49);
        var seenByOne = await set.ReplicasAsync(one);
        long dirty = LabReplicaSet.NodeView(seenByOne, 3).GetProperty("dirtyBytes").GetInt64();
        output.WriteLine($"node 1 marks {dirty} bytes for node 3 ({writes.ExtentBytesSince(settled)} written since the survivors settled)");
        Assert.True(dirty >= writes.ExtentBytesSince(settled), seenByOne.ToString());
        Assert.Equal([(1, ActiveOptimized), (2, ActiveOptimized), (3, Unavailable)], await HaFailoverTests.ReportGroupsAsync(session));

        // Plugged back in: node 3 catches up by a fast sync, no split brain, nothing chosen by hand.
        await lab.PlugInAsync(lab[3], LabNetwork.Sync);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-three", 60);
        // One survivor copies to node 3 (one source at a time); whichever did, it was a fast sync.
        var kinds = (await LastSyncsOfNode3Async(set)).Zip(initialSyncs).Where(s => s.First != s.Second)
            .Select(s => JsonDocument.Parse(s.First).RootElement.GetProperty("kind").GetString()).ToList();
        output.WriteLine($"node 3 was synchronized by: {string.Join(", ", kinds)}");
        Assert.True(kinds.Contains("fast") && !kinds.Contains("full"), $"resyncs after the plug-in: {string.Join(", ", kinds)}\n{set.Logs()}");
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[1], listener: lab[3]);
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[2], listener: lab[3]);

        await set.AssertIdenticalAsync(one);
        await using var viaThree = await set.LoginAsync(lab[3], "three-3");
        await writes.ReadBackThroughAsync(viaThree);
    }

    [NetworkLabFact]
    public async Task Node_killed_in_its_namespace_returns_through_a_fast_sync_of_exactly_the_extents_it_missed()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(2, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-kill", 32L << 20, output);
        var (a, b) = (set[1], set[2]);

        await using var session = await set.LoginAsync(lab[1], "kill");
        var writes = new AcknowledgedWrites(session, (32L << 20) / LabReplicaSet.BlockSize);
        await writes.WriteAsync(50);
        await b.KillAsync();
        int sinceKill = writes.Count;
        await writes.WriteAsync(50);
        var seenByA = LabReplicaSet.NodeView(await set.ReplicasAsync(a), 2);
        Assert.Equal("not-synchronized", seenByA.GetProperty("state").GetString());
        long dirty = seenByA.GetProperty("dirtyBytes").GetInt64();
        Assert.Equal(writes.ExtentBytesSince(sinceKill), dirty);

        // B wrote nothing itself, so its in-flight journal names no extent: the fast sync copies
        // exactly what A marked.
        await b.StartAsync();
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-kill", 60);
        var lastSync = LabReplicaSet.NodeView(await set.ReplicasAsync(a), 2).GetProperty("lastSync");
        output.WriteLine($"{writes.Count} acknowledged writes, {dirty} dirty bytes; resync {lastSync}");
        Assert.Equal("fast", lastSync.GetProperty("kind").GetString());
        Assert.Equal(dirty, lastSync.GetProperty("bytesDone").GetInt64());
        await set.AssertReplicationRunsOnSyncNetworkAsync(dialer: lab[1], listener: lab[2]);

        await set.AssertIdenticalAsync(a);
        await using (var viaB = await set.LoginAsync(lab[2], "kill-b"))
            await writes.ReadBackThroughAsync(viaB);
        Assert.Equal(0, await b.StopAsync()); // SIGTERM reaches the node through `ip netns exec`
    }

    /// <summary>
    /// Node 3 is cut off, and node 2 notices two seconds before node 1. Node 2 moves to the
    /// generation derived from losing node 3; node 1, whose own link to node 3 has gone silent
    /// but not yet timed out, must record the same loss (same generation) instead of taking node
    /// 2's generation for newer data and being resynchronized in full (the bug this once was).
    /// </summary>
    [NetworkLabFact]
    public async Task Three_way_survivors_that_notice_a_lost_node_at_different_times_do_not_resynchronize_each_other()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(3, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-three", 16L << 20, output);

        // Node 2 stops hearing node 3 first; two seconds later node 3 is off the sync network.
        await lab.CutOneWayAsync(lab[3], lab[2], LabNetwork.Sync);
        await Task.Delay(2000);
        await lab.UnplugAsync(lab[3], LabNetwork.Sync);
        await set.WaitUntilAsync("nodes 1 and 2 serve on together without node 3", () => SurvivorsSettledAsync(set));
        await Task.Delay(1000);

        var byTwo = await set.ReplicasAsync(set[2]);
        Assert.True(LabReplicaSet.NodeView(byTwo, 1).GetProperty("lastSync").ValueKind == JsonValueKind.Null, $"node 2 copied its data onto node 1: {byTwo}");
    }

    /// <summary>
    /// (e) Nodes 1 and 2 lose each other on every channel (sync and heartbeat), both still reach
    /// node 3: a partial partition. Through node 3 each would keep a majority, so rank decides:
    /// node 2 (outranked by node 1) stops serving, nodes 1 and 3 serve on, and node 2 comes back
    /// by a fast sync when the link heals. Every acknowledged write, through node 1 and node 3,
    /// is on every node at the end.
    /// </summary>
    [NetworkLabFact]
    public async Task Three_way_partial_partition_is_resolved_by_rank_and_loses_no_acknowledged_write()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(3, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-partial", 16L << 20, output);
        var (one, two, three) = (set[1], set[2], set[3]);
        long blocks = (16L << 20) / LabReplicaSet.BlockSize;
        await using var viaOne = await set.LoginAsync(lab[1], "partial-1");
        await using var viaTwo = await set.LoginAsync(lab[2], "partial-2");
        await using var viaThree = await set.LoginAsync(lab[3], "partial-3");
        var writesOne = new AcknowledgedWrites(viaOne, blocks / 2);
        var writesThree = new AcknowledgedWrites(viaThree, blocks, firstBlock: blocks / 2);
        await writesOne.WriteAsync(30);
        await writesThree.WriteAsync(10);

        await lab.CutAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.CutAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        var stalled = await writesOne.WriteOneThroughFailoverAsync(TimeSpan.FromSeconds(20));
        output.WriteLine($"first write through node 1 after the cut took {stalled.TotalSeconds:0.0} s");
        // Node 1 completed a write without node 2: node 2 had stopped by then.
        Assert.False(await set.ServesAsync(two), $"{await set.ReplicasAsync(two)}\n{set.Logs()}");
        Assert.True(await set.ServesAsync(one));
        Assert.Contains("partial partition", two.Log);
        var refused = await HaFailoverTests.RetryOnUnitAttentionAsync(() => viaTwo.Read10Async(0, 8, LabReplicaSet.BlockSize));
        Assert.True(refused.SenseKey == 2, $"a read through the stopped node 2: {refused}");
        await writesOne.WriteAsync(30);
        await writesThree.WriteOneThroughFailoverAsync(TimeSpan.FromSeconds(20));
        await writesThree.WriteAsync(20);
        Assert.True(await set.ServesAsync(three));
        Assert.False(await set.ServesAsync(two));

        await lab.HealAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-partial", 60);
        var lastSync = LabReplicaSet.NodeView(await set.ReplicasAsync(one), 2).GetProperty("lastSync");
        output.WriteLine($"node 2 came back by: {lastSync}");
        Assert.Equal("fast", lastSync.GetProperty("kind").GetString());
        Assert.DoesNotContain("SPLIT BRAIN", one.Log + two.Log + three.Log);

        await set.AssertIdenticalAsync(one);
        foreach (var host in lab.Hosts)
        {
            await using var reader = await set.LoginAsync(host, $"partial-read-{host.Number}");
            await writesOne.ReadBackThroughAsync(reader);
            await writesThree.ReadBackThroughAsync(reader);
        }
    }

    /// <summary>The last synchronization of node 3 as nodes 1 and 2 each report it (JSON text; "null" for none).</summary>
    private static async Task<string[]> LastSyncsOfNode3Async(LabReplicaSet set) =>
        [.. await Task.WhenAll(new[] { set[1], set[2] }.Select(async n => LabReplicaSet.NodeView(await set.ReplicasAsync(n), 3).GetProperty("lastSync").GetRawText()))];

    /// <summary>Both survivors have dropped their link to node 3 and report each other synchronized.</summary>
    private static async Task<bool> SurvivorsSettledAsync(LabReplicaSet set)
    {
        var byOne = await set.ReplicasAsync(set[1]);
        var byTwo = await set.ReplicasAsync(set[2]);
        return byOne.GetProperty("state").GetString() == "synchronized" && byTwo.GetProperty("state").GetString() == "synchronized" &&
               LabReplicaSet.State(byOne, 2) == "synchronized" && LabReplicaSet.State(byTwo, 1) == "synchronized" &&
               !LabReplicaSet.NodeView(byOne, 3).GetProperty("connected").GetBoolean() && !LabReplicaSet.NodeView(byTwo, 3).GetProperty("connected").GetBoolean();
    }

    /// <summary>
    /// A copy of the image file of <paramref name="device"/> in the node's data directory, taken
    /// with cp while the node runs (the node holds the image itself under an exclusive lock).
    /// </summary>
    internal static string CopyOfImage(TandemNode node, string device, TempDirectory into)
    {
        string image = Directory.EnumerateFiles(node.DataDirectory, device + ".img", SearchOption.AllDirectories).Single();
        string copy = into.Combine($"{node.NodeName}-{device}.img");
        var cp = ExternalTool.RunAsync("cp", [image, copy], TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
        Assert.True(cp.ExitCode == 0, cp.ToString());
        return copy;
    }
}
