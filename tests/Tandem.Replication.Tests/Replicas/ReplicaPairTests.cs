using System.Security.Cryptography;
using Tandem.Replication.Replicas;
using Tandem.Replication.Sync;
using Tandem.Storage;

namespace Tandem.Replication.Tests.Replicas;

public sealed class ReplicaPairTests
{
    private const long Size = 8 << 20;

    [Fact]
    public async Task Replicas_start_serving_once_they_see_the_same_generation_and_writes_reach_both()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        Assert.False(lab[1].Device!.IsServing); // both were synchronized: wait to compare generations
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");

        byte[] data = RandomNumberGenerator.GetBytes(64 * 1024);
        await lab[1].Device!.WriteAsync(100, data);
        await lab[2].Device!.WriteAsync(1000, data);
        byte[] back = new byte[data.Length];
        await lab[2].Device!.ReadAsync(100, back);
        Assert.Equal(data, back);
        await lab[1].Device!.ReadAsync(1000, back);
        Assert.Equal(data, back);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    public async Task Concurrent_overlapping_writes_through_every_node_leave_identical_copies(int nodes, int seed)
    {
        await using var lab = new ReplicaLab(nodes, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "all serve");

        var writers = lab.Nodes.SelectMany(n => Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(seed * 1000 + n.Id * 10 + w);
            byte[] buffer = new byte[16 * ReplicaLab.BlockSize];
            for (int i = 0; i < 400; i++)
            {
                int blocks = random.Next(1, 17);
                long lba = random.Next(0, 256 - blocks); // a small hot area: many overlaps
                random.NextBytes(buffer.AsSpan(0, blocks * ReplicaLab.BlockSize));
                if (random.Next(20) == 0)
                    await n.Device!.UnmapAsync(lba, blocks);
                else
                    await n.Device!.WriteAsync(lba, buffer.AsMemory(0, blocks * ReplicaLab.BlockSize), random.Next(10) == 0 ? WriteFlags.ForceUnitAccess : WriteFlags.None);
            }
        }))).ToArray();
        await Task.WhenAll(writers);

        // A link lost under load would be a partition, not an ordering question: say so if it happened.
        Assert.True(lab.Nodes.All(n => n.Device!.Peers.All(p => p.LinkLosses == 0)), $"a link went down during the test: {lab.Describe()}");
        byte[] first = lab[1].ReadAll();
        foreach (var node in lab.Nodes.Skip(1))
            Assert.True(first.AsSpan().SequenceEqual(node.ReadAll()), $"node {node.Id} differs from node 1 (seed {seed})");
        var verify = await lab[1].Device!.VerifyAsync(CancellationToken.None);
        Assert.True(verify.Identical);
        Assert.Equal(nodes, verify.ComparedNodes.Count);
    }

    [Fact]
    public async Task Writes_queued_behind_a_write_on_the_wire_leave_together_when_its_reply_arrives()
    {
        // Heartbeats would flush the queue on their own schedule: keep them out of this test's way.
        var quiet = ReplicaLab.FastTimings with { HeartbeatInterval = TimeSpan.FromMinutes(1), Timeout = TimeSpan.FromMinutes(2) };
        await using var lab = new ReplicaLab(2, Size, timings: quiet);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        var link = lab[1].Device!.Peers[0].Link!;
        var (writesBefore, sendsBefore) = link.WriteTraffic;

        // Node 2's disk stalls: the first write is on the wire and stays unanswered.
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lab[2].Storage.WriteGate = stalled.Task;
        byte[] block = RandomNumberGenerator.GetBytes(ReplicaLab.BlockSize);
        Task first, all;
        try
        {
            first = lab[1].Device!.WriteAsync(0, block).AsTask();
            await lab.WaitUntilAsync(() => link.WriteTraffic.Sends == sendsBefore + 1, "the first write is sent");

            // Writes from other threads meanwhile wait for its reply instead of being sent one by one.
            Task[] more = Enumerable.Range(1, 20).Select(i => Task.Run(() => lab[1].Device!.WriteAsync(i * 8, block).AsTask())).ToArray();
            all = Task.WhenAll(more.Append(first));
            await lab.WaitUntilAsync(() => link.WritesWaiting == 20, "20 writes queue behind it", timeoutMs: 5000);
            Assert.Equal(sendsBefore + 1, link.WriteTraffic.Sends);
            Assert.False(first.IsCompleted);
        }
        finally
        {
            // Pass or fail, the disk comes back: the lab cannot shut down with node 2's link stuck in a write.
            lab[2].Storage.WriteGate = null;
            stalled.SetResult();
        }
        await all;
        Assert.Equal((writesBefore + 21, sendsBefore + 2), link.WriteTraffic);
        Assert.Equal(0, link.WritesWaiting);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task A_partner_writes_adjacent_writes_of_one_batch_with_one_gathered_write()
    {
        var quiet = ReplicaLab.FastTimings with { HeartbeatInterval = TimeSpan.FromMinutes(1), Timeout = TimeSpan.FromMinutes(2) };
        await using var lab = new ReplicaLab(2, Size, timings: quiet);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        var link = lab[1].Device!.Peers[0].Link!;
        var (_, sendsBefore) = link.WriteTraffic;

        // Node 2's disk stalls on the first write, so the next 24 queue on node 1 and leave in one
        // send; they are adjacent (8 blocks each, in stamp order: issued from this one thread).
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lab[2].Storage.WriteGate = stalled.Task;
        var blocks = Enumerable.Range(0, 25).Select(_ => RandomNumberGenerator.GetBytes(4096)).ToArray();
        var writes = new List<Task>();
        try
        {
            writes.Add(lab[1].Device!.WriteAsync(0, blocks[0]).AsTask());
            await lab.WaitUntilAsync(() => link.WriteTraffic.Sends == sendsBefore + 1, "the first write is sent");
            for (int i = 1; i < blocks.Length; i++)
                writes.Add(lab[1].Device!.WriteAsync(i * 8, blocks[i]).AsTask());
            Assert.Equal(24, link.WritesWaiting);
        }
        finally
        {
            lab[2].Storage.WriteGate = null;
            stalled.SetResult();
        }
        await Task.WhenAll(writes);

        var (gathered, pieces) = lab[2].Storage.Gathered;
        Assert.True(gathered >= 1 && pieces >= 2, $"node 2 made {gathered} gathered writes of {pieces} pieces");
        Assert.True(gathered <= 12, $"24 adjacent writes in one send took {gathered} gathered writes");
        byte[] expected = blocks.SelectMany(b => b).ToArray();
        Assert.Equal(expected, lab[2].ReadAll()[..expected.Length]);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
        Assert.Equal(0, lab[2].Device!.Peers[0].Bitmap.DirtyExtents);
    }

    [Fact]
    public async Task Writes_a_receive_loop_runs_reach_the_local_image_and_the_partner_when_its_batch_ends()
    {
        await using var lab = new ReplicaLab(2, Size, thinImages: true);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");

        // As an iSCSI receive loop runs them: inside a batch, whose end sends the frames and writes
        // the local copies (adjacent ones gathered into one pwritev).
        var batch = new Tandem.Storage.Threading.DeferredFlushes();
        var blocks = Enumerable.Range(0, 16).Select(_ => RandomNumberGenerator.GetBytes(4096)).ToArray();
        var writes = new List<Task>();
        using (Tandem.Storage.Threading.NoWait.Enter(batch))
        {
            for (int i = 0; i < blocks.Length; i++)
                writes.Add(lab[1].Device!.WriteAsync(i * 8, blocks[i]).AsTask());
        }
        Assert.All(writes, w => Assert.False(w.IsCompleted));
        var nothingYet = new byte[blocks.Length * 4096];
        await Task.Run(() => lab[1].Storage.ReadAsync(0, nothingYet).AsTask()); // another thread: the batch has not ended
        Assert.All(nothingYet, b => Assert.Equal(0, b));

        batch.Run();
        await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(10));
        byte[] expected = blocks.SelectMany(b => b).ToArray();
        Assert.Equal(expected, lab[1].ReadAll()[..expected.Length]);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task A_gathered_write_that_fails_on_the_partner_leaves_it_stale_and_the_origin_serving_until_a_resync_repairs_it()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");

        lab[2].Storage.GatheredWriteFault = new IOException("injected: the partner's disk failed a batch");
        var blocks = Enumerable.Range(0, 32).Select(_ => RandomNumberGenerator.GetBytes(4096)).ToArray();
        // Every client write completes: node 1 has it, and node 2's failure only drops node 2.
        await Task.WhenAll(blocks.Select((b, i) => lab[1].Device!.WriteAsync(i * 8, b).AsTask()));
        await lab.WaitUntilAsync(() => !lab[2].Device!.IsServing, "node 2 stops serving");
        Assert.True(lab[1].Device!.IsServing);
        Assert.Equal(blocks.SelectMany(b => b).ToArray(), lab[1].ReadAll()[..(blocks.Length * 4096)]);

        // The disk recovers: a resync brings node 2 back, identical.
        lab[2].Storage.GatheredWriteFault = null;
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve again", timeoutMs: 30_000);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task Survivors_of_a_partner_lost_mid_send_rewrite_its_last_writes_until_they_agree()
    {
        await using var lab = new ReplicaLab(3, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "all three serve");

        // Node 2's disk stalls: node 1's first write waits there unanswered, so the writes after it
        // stay queued on node 1's link to node 2, while node 3 applies them all. Then node 1 dies.
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lab[2].Storage.WriteGate = stalled.Task;
        var blocks = Enumerable.Range(0, 16).Select(_ => RandomNumberGenerator.GetBytes(4096)).ToArray();
        byte[] expected = blocks.SelectMany(b => b).ToArray();
        var unacknowledged = new List<Task>();
        try
        {
            for (int i = 0; i < blocks.Length; i++)
                unacknowledged.Add(lab[1].Device!.WriteAsync(i * 8, blocks[i]).AsTask());
            await lab.WaitUntilAsync(() => lab[3].ReadAll().AsSpan(0, expected.Length).SequenceEqual(expected), "node 3 applied all of node 1's writes");
            Assert.All(unacknowledged, t => Assert.False(t.IsCompleted)); // node 2 has not answered: none is acknowledged
            await lab[1].CrashAsync();
            await lab.WaitUntilAsync(() => lab[2].Device!.Peers.Single(p => p.Id == 1).Link is null && lab[3].Device!.Peers.Single(p => p.Id == 1).Link is null,
                "both survivors lost node 1");
        }
        finally
        {
            lab[2].Storage.WriteGate = null;
            stalled.SetResult();
        }
        await Task.WhenAll(unacknowledged.Select(t => t.ContinueWith(_ => { }))); // they fail with node 1: never acknowledged

        // Node 3 applied writes node 2 never received; it rewrites them, and the survivors agree.
        await lab.WaitUntilAsync(() => lab[2].ReadAll().AsSpan().SequenceEqual(lab[3].ReadAll()), "the survivors agree", timeoutMs: 15_000);
        Assert.Equal(expected, lab[2].ReadAll()[..expected.Length]);
        Assert.True(lab[2].Device!.IsServing && lab[3].Device!.IsServing);
        var verify = await lab[2].Device!.VerifyAsync(CancellationToken.None);
        Assert.True(verify.Identical);
    }

    [Fact]
    public async Task A_partner_that_stops_is_fast_synchronized_when_it_returns()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        byte[] block = RandomNumberGenerator.GetBytes(4096);
        await lab[1].Device!.WriteAsync(0, block);

        await lab[2].StopAsync();
        await lab.WaitUntilAsync(() => lab[1].Device!.Peers[0].RecordedState == ReplicaState.NotSynchronized, "node 1 records node 2 lost");
        Assert.True(lab[1].Device!.IsServing);

        // Three extents touched while node 2 is away (two writes share one extent).
        await lab[1].Device!.WriteAsync(128, block);
        await lab[1].Device!.WriteAsync(140, block);
        await lab[1].Device!.WriteAsync(128 * 5, block);
        await lab[1].Device!.WriteAsync(128 * 9 + 124, block); // spans two extents
        var peer = lab[1].Device!.Peers[0];
        Assert.Equal(4, peer.Bitmap.DirtyExtents);
        Assert.NotEqual(lab[1].ReadAll(), lab[2].ReadAll());

        lab[2].Start();
        Assert.False(lab[2].Device!.IsServing);
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing) && peer.RecordedState == ReplicaState.Synchronized && peer.LastSync is not null, "fast sync done");
        Assert.Equal("fast", peer.LastSync!.Kind);
        Assert.Equal(4L * 64 * 1024, peer.LastSync.BytesDone);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
        Assert.Equal(lab[1].Persisted.Generation, lab[2].Persisted.Generation);
    }

    /// <summary>Node 2 holds other, stale data and node 1 knows it: node 1's random data must be copied in full.</summary>
    private static async Task LeaveNodeTwoBehindAsync(ReplicaLab lab)
    {
        lab[2].Persisted = lab[2].Persisted with { State = "not-synchronized", Generation = Generation.NewRandom() };
        lab[1].Persisted = lab[1].Persisted with { Nodes = lab[1].Persisted.Nodes.Select(n => n.NodeId == 2 ? n with { State = "not-synchronized" } : n).ToArray() };
        await lab[1].Storage.WriteAsync(0, RandomNumberGenerator.GetBytes((int)(lab[1].Storage.BlockCount * ReplicaLab.BlockSize)));
    }

    /// <summary>Large enough for two background flushes of resync data on the target (and a tail).</summary>
    private const long TwoFlushesOfResync = 2 * FlushBehind.BytesPerFlush + (32 << 20);

    [Fact]
    public async Task A_sync_target_flushes_resync_data_while_it_arrives_not_only_at_the_end()
    {
        await using var lab = new ReplicaLab(2, TwoFlushesOfResync);
        await LeaveNodeTwoBehindAsync(lab);
        lab.StartAll();
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => lab[2].Device!.IsServing && peer.LastSync is not null, "node 2 synchronized", timeoutMs: 60000);
        Assert.Equal(TwoFlushesOfResync, peer.LastSync!.BytesDone);
        // One flush per 128 MiB applied, in the background, and the one owed before it calls itself synchronized.
        Assert.True(lab[2].Storage.Flushes >= 3, $"node 2 flushed {lab[2].Storage.Flushes} times during a {TwoFlushesOfResync >> 20} MiB sync");
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task A_failed_background_flush_stops_the_sync_and_the_target_never_serves()
    {
        await using var lab = new ReplicaLab(2, TwoFlushesOfResync);
        await LeaveNodeTwoBehindAsync(lab);
        lab[2].Storage.FlushFault = new IOException("injected: the disk lost writes");
        lab.StartAll();
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => peer.LastSync is not null, "the sync stopped", timeoutMs: 60000);
        // Stopped early, at the first data after the failed flush, not at the final flush.
        Assert.True(peer.LastSync!.BytesDone < TwoFlushesOfResync, $"the sync copied {peer.LastSync.BytesDone} bytes after its target's flush failed");
        Assert.False(lab[2].Device!.IsServing);
        Assert.NotEqual(ReplicaState.Synchronized, lab[2].Device!.LocalState);
        Assert.NotEqual(ReplicaState.Synchronized, peer.RecordedState);
        Assert.True(lab[1].Device!.IsServing); // the source keeps serving its clients
    }

    [Fact]
    public async Task A_stale_partner_is_fully_synchronized()
    {
        await using var lab = new ReplicaLab(2, Size);
        await LeaveNodeTwoBehindAsync(lab);
        lab.StartAll();
        Assert.True(lab[1].Device!.IsServing); // it left its only partner behind: serves at once
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => lab[2].Device!.IsServing && peer.LastSync is not null, "node 2 synchronized");
        Assert.Equal("full", peer.LastSync!.Kind);
        Assert.Equal(Size, peer.LastSync.BytesDone);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task A_synchronization_cut_off_by_a_lost_link_starts_again_when_the_link_is_back()
    {
        await using var lab = new ReplicaLab(2, Size) { SyncRateLimit = 2 << 20 }; // 4 s for the whole copy
        await LeaveNodeTwoBehindAsync(lab);
        lab.StartAll();
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => lab[2].Device!.LocalState == ReplicaState.Synchronizing && peer.Sync is { BytesDone: > 0 }, "the full sync is under way");

        lab.CutLinksInto(2);
        // The half-copied node says so: not synchronized, no longer "synchronizing" (which would
        // keep the source from starting again), and it does not serve.
        await lab.WaitUntilAsync(() => lab[2].Device!.LocalState == ReplicaState.NotSynchronized && peer.Sync is null, "node 2 gave the sync up");
        Assert.False(lab[2].Device!.IsServing);

        lab.HealLinksInto(2);
        await lab.WaitUntilAsync(() => lab[2].Device!.IsServing && peer.LastSync is { Kind: "full", BytesDone: Size }, "node 2 synchronized again", timeoutMs: 30000);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task Diverged_generations_are_reported_as_split_brain_and_never_merged()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        // Both continue alone (as after a cut link with no witness): simulate by stopping each in turn.
        await lab[2].StopAsync();
        await lab.WaitUntilAsync(() => lab[1].Device!.Peers[0].RecordedState == ReplicaState.NotSynchronized, "1 alone");
        await lab[1].StopAsync();
        lab[2].Persisted = lab[2].Persisted with
        {
            Generation = Generation.AfterLosing(lab[2].Persisted.Generation, 1),
            History = [lab[2].Persisted.Generation],
            Nodes = lab[2].Persisted.Nodes.Select(n => n.NodeId == 1 ? n with { State = "not-synchronized" } : n).ToArray(),
        };
        lab[2].Start();
        Assert.True(lab[2].Device!.IsServing);
        await lab[2].Device!.WriteAsync(0, new byte[4096]);
        lab[1].Start();
        await lab.WaitUntilAsync(() => lab[1].Device!.Peers[0].SplitBrain && lab[2].Device!.Peers[0].SplitBrain, "split brain seen on both");
        Assert.Null(lab[1].Device!.Peers[0].Sync);
        Assert.Null(lab[2].Device!.Peers[0].Sync);

        // The administrator picks node 2: node 1 is fully synchronized from it.
        await lab[2].Device!.MarkSynchronizedAsync();
        // Node 1 hears the new status; node 2 sees node 1 synchronized and older, so it copies.
        await lab.WaitUntilAsync(() => lab[1].Device!.IsServing && lab[2].Device!.Peers[0].RecordedState == ReplicaState.Synchronized, "resolved");
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Range_locks_make_read_modify_write_atomic_across_nodes(int nodes)
    {
        await using var lab = new ReplicaLab(nodes, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "all serve");

        // Every node increments one counter block (as COMPARE AND WRITE would) while plain writes
        // hit the neighbouring blocks; no increment may be lost.
        const int Increments = 100;
        var tasks = lab.Nodes.SelectMany(n => new[]
        {
            Task.Run(async () =>
            {
                byte[] block = new byte[ReplicaLab.BlockSize];
                for (int i = 0; i < Increments; i++)
                {
                    await using (await n.Device!.LockRangeAsync(10, 1))
                    {
                        await n.Device.ReadAsync(10, block);
                        BitConverter.TryWriteBytes(block, BitConverter.ToInt64(block) + 1);
                        await n.Device.WriteLockedAsync(10, block, WriteFlags.None);
                    }
                }
            }),
            Task.Run(async () =>
            {
                byte[] noise = new byte[4 * ReplicaLab.BlockSize];
                for (int i = 0; i < Increments; i++)
                    await n.Device!.WriteAsync(11 + i % 4, noise);
            }),
        }).ToArray();
        await Task.WhenAll(tasks);

        byte[] result = new byte[ReplicaLab.BlockSize];
        foreach (var node in lab.Nodes)
        {
            await node.Device!.ReadAsync(10, result);
            Assert.Equal(nodes * Increments, BitConverter.ToInt64(result));
        }
        Assert.True((await lab[1].Device!.VerifyAsync(CancellationToken.None)).Identical);
    }

    [Fact]
    public async Task A_full_resync_of_a_synchronized_partner_copies_everything_and_both_serve_again()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        await lab[1].Device!.WriteAsync(0, RandomNumberGenerator.GetBytes(64 * 1024));
        var peer = lab[1].Device!.Peers[0];

        Assert.Equal(1, lab[1].Device!.SyncNow(full: true));
        await lab.WaitUntilAsync(() => peer.LastSync is { Kind: "full" } && lab.Nodes.All(n => n.Device!.IsServing) && peer.ReceivesWrites, "full resync done");
        Assert.Equal(Size, peer.LastSync!.BytesDone);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task Extend_grows_every_copy_and_is_refused_while_a_partner_is_away()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        bool partnerHeard = false;
        lab[2].Device!.Resized += () => partnerHeard = true;

        long blocks = 2 * Size / ReplicaLab.BlockSize;
        await lab[1].Device!.ResizeAsync(blocks);
        Assert.Equal(blocks, lab[1].Device!.BlockCount);
        Assert.Equal(blocks, lab[2].Device!.BlockCount);
        Assert.True(partnerHeard);
        byte[] tail = RandomNumberGenerator.GetBytes(4096);
        await lab[2].Device!.WriteAsync(blocks - 8, tail);
        byte[] back = new byte[4096];
        await lab[1].Device!.ReadAsync(blocks - 8, back);
        Assert.Equal(tail, back);

        await lab[2].StopAsync();
        await lab.WaitUntilAsync(() => lab[1].Device!.Peers[0].Link is null, "link down");
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await lab[1].Device!.ResizeAsync(blocks * 2));
        Assert.Equal(blocks, lab[1].Device!.BlockCount);
    }

    [Fact]
    public async Task A_crashed_writer_gets_back_the_extents_it_had_in_flight()
    {
        await using var lab = new ReplicaLab(2, Size, journals: true);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        byte[] agreed = RandomNumberGenerator.GetBytes(64 * 1024);
        await lab[1].Device!.WriteAsync(0, agreed);

        // Node 2 dies in the middle of a write it had applied locally but never sent.
        lab[2].Device!.Journal!.Begin(0, 128);
        await lab[2].Storage.WriteAsync(0, RandomNumberGenerator.GetBytes(64 * 1024));
        await lab[2].CrashAsync();
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => peer.RecordedState == ReplicaState.NotSynchronized, "node 1 records node 2 lost");
        Assert.Equal(0, peer.Bitmap.DirtyExtents); // nothing written since: the bitmap alone would copy nothing

        lab[2].Start();
        Assert.False(lab[2].Device!.IsServing);
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing) && peer.LastSync is not null, "resynchronized");
        Assert.Equal("fast", peer.LastSync!.Kind);
        Assert.Equal(64 * 1024, peer.LastSync.BytesDone);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task A_crash_without_a_journal_means_a_full_resync()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");
        await lab[2].CrashAsync();
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => peer.RecordedState == ReplicaState.NotSynchronized, "node 1 records node 2 lost");
        lab[2].Start();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing) && peer.LastSync is not null, "resynchronized");
        Assert.Equal("full", peer.LastSync!.Kind);
    }

    [Fact]
    public async Task A_cut_link_with_writes_on_both_sides_is_reported_as_split_brain_and_nothing_is_merged()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");

        lab.CutLinksInto(2);
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.Peers[0].RecordedState == ReplicaState.NotSynchronized), "both record the other lost");
        // No witness yet: both sides keep serving (the documented risk) and both write.
        byte[] one = RandomNumberGenerator.GetBytes(4096), two = RandomNumberGenerator.GetBytes(4096);
        await lab[1].Device!.WriteAsync(0, one);
        await lab[2].Device!.WriteAsync(0, two);

        lab.HealLinksInto(2);
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.Peers[0].SplitBrain), "split brain seen on both");
        byte[] back = new byte[4096];
        await lab[1].Device!.ReadAsync(0, back);
        Assert.Equal(one, back);
        await lab[2].Device!.ReadAsync(0, back);
        Assert.Equal(two, back); // never merged silently

        await lab[1].Device!.MarkSynchronizedAsync();
        await lab.WaitUntilAsync(() => lab[1].Device!.Peers[0].LastSync is { Kind: "full" } && lab[2].Device!.IsServing, "node 2 resynchronized from node 1");
        await lab[2].Device!.ReadAsync(0, back);
        Assert.Equal(one, back);
    }

    [Fact]
    public async Task A_cut_link_is_reported_as_split_brain_even_if_one_side_wrote_nothing_until_failover_strategies_exist()
    {
        await using var lab = new ReplicaLab(2, Size);
        lab.StartAll();
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.IsServing && n.Device.Peers.All(p => p.ReceivesWrites)), "both serve");

        lab.CutLinksInto(2);
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.Peers[0].RecordedState == ReplicaState.NotSynchronized), "both record the other lost");
        await lab[1].Device!.WriteAsync(128, RandomNumberGenerator.GetBytes(4096));
        // Node 2 wrote nothing, but it moved to its own new generation too: without a witness
        // this is indistinguishable from a split brain, and is reported as one.
        lab.HealLinksInto(2);
        await lab.WaitUntilAsync(() => lab.Nodes.All(n => n.Device!.Peers[0].SplitBrain), "reported");
        Assert.NotEqual(lab[1].ReadAll(), lab[2].ReadAll());
    }

    [Fact]
    public async Task A_full_sync_of_a_thin_device_sends_holes_as_deallocations()
    {
        await using var lab = new ReplicaLab(2, Size, thinImages: true);
        lab[2].Persisted = lab[2].Persisted with { State = "not-synchronized", Generation = Generation.NewRandom() };
        lab[1].Persisted = lab[1].Persisted with { Nodes = lab[1].Persisted.Nodes.Select(n => n.NodeId == 2 ? n with { State = "not-synchronized" } : n).ToArray() };
        // Node 2 holds stale data everywhere; node 1 has data in two extents only.
        await lab[2].Storage.WriteAsync(0, RandomNumberGenerator.GetBytes((int)Size));
        await lab[1].Storage.WriteAsync(128 * 3, RandomNumberGenerator.GetBytes(64 * 1024));
        await lab[1].Storage.WriteAsync(128 * 40, RandomNumberGenerator.GetBytes(64 * 1024));
        lab.StartAll();
        var peer = lab[1].Device!.Peers[0];
        await lab.WaitUntilAsync(() => lab[2].Device!.IsServing && peer.LastSync is not null, "node 2 synchronized");
        Assert.Equal("full", peer.LastSync!.Kind);
        Assert.Equal(lab[1].ReadAll(), lab[2].ReadAll());
        long allocated = ((ImageFileDevice)lab[2].Storage.Inner).AllocatedBytes;
        Assert.True(allocated <= 4 * 64 * 1024, $"node 2 still allocates {allocated} bytes: holes were copied as zeros");
    }
}
