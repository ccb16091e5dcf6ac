using System.Diagnostics;
using Tandem.Interop.Tests.Infrastructure;
using Tandem.Interop.Tests.Infrastructure.Lab;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// The node-majority failover strategy on real nodes in network namespaces: a node serves only
/// while it reaches more than half of the votes. Two data nodes with a witness node (a plain
/// <c>tandem serve</c> on a third host) or a file-share witness (a folder both nodes see), and
/// three data nodes with no witness; links cut with real link changes.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class NodeMajorityLabTests(ITestOutputHelper output)
{
    private static readonly string[] NodeMajority = ["--failover", "node-majority"];

    /// <summary>
    /// docs/design/failover.md: the node that keeps the majority completes writes without its
    /// partner only once the partner has surely stopped: one link timeout to notice, then one more
    /// link timeout and a heartbeat interval (nothing answers the fence when every channel is cut).
    /// </summary>
    private static readonly TimeSpan ContinuesWithin = TimeSpan.FromSeconds(5 + 5.5 + 4);

    [NetworkLabFact]
    public async Task Witness_node_a_node_cut_from_its_partner_and_the_witness_stops_and_the_witness_never_brings_it_back_stale()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(3, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-nm", 16L << 20, output, dataHosts: 2, replicaAddOptions: NodeMajority);
        await using var witness = await TandemNode.StartAsync(data.Combine("witness"), lab[3].NodeEndpoints, "witness");
        var (a, b) = (set[1], set[2]);
        Assert.Contains((await set.ReplicasAsync(a)).GetProperty("failover").GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("no witness"));

        var add = await set.CliAsync(a, "witness", "add", "lab-nm", "--witness", witness.ApiEndPoint, "--witness-password", TandemNode.AdminPassword);
        Assert.True(add.ExitCode == 0, add.ToString());
        foreach (var node in set.Nodes)
        {
            var failover = (await set.ReplicasAsync(node)).GetProperty("failover");
            Assert.Equal("node-majority", failover.GetProperty("strategy").GetString());
            Assert.Equal($"witness node {witness.ApiEndPoint}", failover.GetProperty("witness").GetString());
            Assert.DoesNotContain(failover.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("no witness"));
        }

        await using var viaA = await set.LoginAsync(lab[1], "nm-a");
        await using var viaB = await set.LoginAsync(lab[2], "nm-b");
        var writes = new AcknowledgedWrites(viaA, (16L << 20) / LabReplicaSet.BlockSize);
        await writes.WriteAsync(30);

        // B loses A (sync and heartbeat) and the witness (B's client-network link to host 3).
        await lab.CutAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.CutAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        await lab.CutAsync(lab[2], lab[3], LabNetwork.Client);
        int sinceCut = writes.Count;
        var stalled = await writes.WriteOneThroughFailoverAsync(ContinuesWithin + TimeSpan.FromSeconds(5));
        output.WriteLine($"first write through A after the cut took {stalled.TotalSeconds:0.0} s");
        // A completed a write without B: B had stopped by then (it has one vote of three).
        Assert.False(await set.ServesAsync(b), $"{await set.ReplicasAsync(b)}\n{set.Logs()}");
        var byA = (await set.ReplicasAsync(a)).GetProperty("failover");
        Assert.True(byA.GetProperty("holdsWitnessVote").GetBoolean(), byA.ToString());
        var refused = await HaFailoverTests.RetryOnUnitAttentionAsync(() => viaB.Read10Async(0, 8, LabReplicaSet.BlockSize));
        Assert.True(refused.SenseKey == 2, $"a read through the stopped node B: {refused}");
        Assert.Contains("QUORUM LOST", b.Log);
        await writes.WriteAsync(30);

        // A dies. B reaches the witness again and restarts: its copy is older than the generation
        // the witness voted for, so the witness never gives it the vote, and it stays blocked.
        await a.KillAsync();
        await lab.HealAsync(lab[2], lab[3], LabNetwork.Client);
        await b.KillAsync();
        await b.StartAsync();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            Assert.False(await set.ServesAsync(b), $"the stale node B serves after a restart:\n{await set.ReplicasAsync(b)}\n{b.Log}");
            await Task.Delay(500);
        }
        var byB = (await set.ReplicasAsync(b)).GetProperty("failover");
        output.WriteLine($"B after its restart: {byB}");
        Assert.Contains("older than generation", byB.GetProperty("witnessAnswer").GetString());

        // A returns (the witness's vote again, at its own generation) and the network heals: B is
        // synchronized from A. A restarted, and the ram journal's bitmap does not survive that,
        // so this resync is a full one (a disk journal would keep it fast).
        await a.StartAsync();
        await set.WaitUntilAsync("A serves again with the witness's vote", () => set.ServesAsync(a), 30);
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-nm", 90);
        var lastSync = LabReplicaSet.NodeView(await set.ReplicasAsync(a), 2).GetProperty("lastSync");
        output.WriteLine($"B came back by: {lastSync} ({writes.ExtentBytesSince(sinceCut)} bytes of extents written since the cut)");
        Assert.Equal(ReplicaSyncKinds.AfterRestartOfTheSurvivor, lastSync.GetProperty("kind").GetString());
        await set.AssertIdenticalAsync(a);
        await using var viaBAgain = await set.LoginAsync(lab[2], "nm-b2");
        await writes.ReadBackThroughAsync(viaBAgain);
    }

    /// <summary>
    /// (d) The same with a file-share witness: a folder both nodes see. B loses A and its view of
    /// the share (an empty file system mounted over the share's path in B's own mount namespace,
    /// as when a share is unmounted): B stops, A takes the share's vote and serves. Then A dies and
    /// B restarts seeing the share again: its generation is older than the one the share voted
    /// for, so it never gets the vote.
    /// </summary>
    [NetworkLabFact]
    public async Task File_share_witness_a_node_cut_from_its_partner_and_the_share_stops_and_the_share_never_brings_it_back_stale()
    {
        using var data = new TempDirectory();
        using var share = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(2, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-share", 16L << 20, output, replicaAddOptions: NodeMajority);
        var (a, b) = (set[1], set[2]);
        var add = await set.CliAsync(a, "witness", "add", "lab-share", "--witness-path", share.Path);
        Assert.True(add.ExitCode == 0, add.ToString());
        foreach (var node in set.Nodes)
            Assert.StartsWith($"file-share witness {share.Path}", (await set.ReplicasAsync(node)).GetProperty("failover").GetProperty("witness").GetString());

        await using var viaA = await set.LoginAsync(lab[1], "share-a");
        await using var viaB = await set.LoginAsync(lab[2], "share-b");
        var writes = new AcknowledgedWrites(viaA, (16L << 20) / LabReplicaSet.BlockSize);
        await writes.WriteAsync(30);

        await lab.CutAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.CutAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        await HideShareFromAsync(b, share.Path);
        var stalled = await writes.WriteOneThroughFailoverAsync(ContinuesWithin + TimeSpan.FromSeconds(5));
        output.WriteLine($"first write through A after the cut took {stalled.TotalSeconds:0.0} s");
        Assert.False(await set.ServesAsync(b), $"{await set.ReplicasAsync(b)}\n{set.Logs()}");
        Assert.True((await set.ReplicasAsync(a)).GetProperty("failover").GetProperty("holdsWitnessVote").GetBoolean());
        var refused = await HaFailoverTests.RetryOnUnitAttentionAsync(() => viaB.Read10Async(0, 8, LabReplicaSet.BlockSize));
        Assert.True(refused.SenseKey == 2, $"a read through the stopped node B: {refused}");
        await writes.WriteAsync(30);

        // A dies; B restarts (a new mount namespace: it sees the share again) and is refused.
        await a.KillAsync();
        await b.KillAsync();
        await b.StartAsync();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            Assert.False(await set.ServesAsync(b), $"the stale node serves after a restart:\n{await set.ReplicasAsync(b)}\n{b.Log}");
            await Task.Delay(500);
        }
        Assert.Contains("older than generation", (await set.ReplicasAsync(b)).GetProperty("failover").GetProperty("witnessAnswer").GetString());

        await a.StartAsync();
        await set.WaitUntilAsync("A serves again with the share's vote", () => set.ServesAsync(a), 40);
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Sync);
        await lab.HealAsync(lab[1], lab[2], LabNetwork.Heartbeat);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-share", 90);
        await set.AssertIdenticalAsync(a);
        await using var viaBAgain = await set.LoginAsync(lab[2], "share-b2");
        await writes.ReadBackThroughAsync(viaBAgain);
    }

    /// <summary>Mounts an empty tmpfs over <paramref name="path"/> in the node's own mount namespace only.</summary>
    private static async Task HideShareFromAsync(TandemNode node, string path)
    {
        var pid = node.ProcessId ?? throw new InvalidOperationException($"{node.NodeName} is not running");
        var mount = await ExternalTool.RunAsync("nsenter", ["-t", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", "mount", "-t", "tmpfs", "-o", "size=1m", "tandem-no-share", path],
            TimeSpan.FromSeconds(10));
        Assert.True(mount.ExitCode == 0, mount.ToString());
    }

    private static class ReplicaSyncKinds
    {
        /// <summary>The ram journal's bitmap does not survive a restart of the node that kept it.</summary>
        public const string AfterRestartOfTheSurvivor = "full";
    }

    [NetworkLabFact]
    public async Task Three_data_nodes_the_isolated_node_stops_for_want_of_a_majority_and_the_other_two_serve_on()
    {
        using var data = new TempDirectory();
        await using var lab = await NetworkLab.CreateAsync(3, output.WriteLine);
        await using var set = await LabReplicaSet.StartAsync(lab, data, "lab-nm3", 16L << 20, output, replicaAddOptions: NodeMajority);
        Assert.DoesNotContain((await set.ReplicasAsync(set[1])).GetProperty("failover").GetProperty("warnings").EnumerateArray(),
            w => w.GetString()!.Contains("witness"));
        await using var viaOne = await set.LoginAsync(lab[1], "nm3-1");
        await using var viaThree = await set.LoginAsync(lab[3], "nm3-3");
        var writes = new AcknowledgedWrites(viaOne, (16L << 20) / LabReplicaSet.BlockSize);
        await writes.WriteAsync(30);

        // Node 3 loses both of its networks to the others (its client network stays: we watch it).
        await lab.UnplugAsync(lab[3], LabNetwork.Sync);
        await lab.UnplugAsync(lab[3], LabNetwork.Heartbeat);
        var stalled = await writes.WriteOneThroughFailoverAsync(ContinuesWithin + TimeSpan.FromSeconds(5));
        output.WriteLine($"first write through node 1 after the cut took {stalled.TotalSeconds:0.0} s");
        Assert.False(await set.ServesAsync(set[3]), $"{await set.ReplicasAsync(set[3])}\n{set.Logs()}");
        // Node 2 decides on its own clock (its links to node 3 went down a little later).
        await set.WaitUntilAsync("nodes 1 and 2 serve", async () => await set.ServesAsync(set[1]) && await set.ServesAsync(set[2]), 15);
        Assert.False(await set.ServesAsync(set[3]));
        var refused = await HaFailoverTests.RetryOnUnitAttentionAsync(() => viaThree.Read10Async(0, 8, LabReplicaSet.BlockSize));
        Assert.True(refused.SenseKey == 2, $"a read through the isolated node 3: {refused}");
        await writes.WriteAsync(30);

        await lab.PlugInAsync(lab[3], LabNetwork.Sync);
        await lab.PlugInAsync(lab[3], LabNetwork.Heartbeat);
        await HaTests.WaitSynchronizedAsync(set.Nodes, "lab-nm3", 90);
        await set.AssertIdenticalAsync(set[1]);
        await using var viaThreeAgain = await set.LoginAsync(lab[3], "nm3-3b");
        await writes.ReadBackThroughAsync(viaThreeAgain);
    }
}
