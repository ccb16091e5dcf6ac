using System.Diagnostics;
using Tandem.Replication.Failover;
using static Tandem.Replication.Tests.Failover.WitnessShare;

namespace Tandem.Replication.Tests.Failover;

public sealed class FileShareWitnessTests
{
    private static readonly TimeSpan Patience = Lease * 6;

    [Fact]
    public async Task GrantsTheFirstNode()
    {
        using var share = new WitnessShare();
        await using var witness = share.Open();

        var answer = await VoteAsync(witness, 1, "a", "b");

        Assert.Equal(WitnessVerdict.Granted, answer.Verdict);
        Assert.Equal(Lease, answer.Lease);
        Assert.Equal([1L], share.Records());
    }

    [Fact]
    public async Task RefusesTheSecondNodeWhileTheFirstRenews()
    {
        // A longer lease here: a scheduling stall of a whole lease on a busy machine would be a real expiry.
        var lease = TimeSpan.FromSeconds(1);
        using var share = new WitnessShare();
        await using var first = share.Open(lease);
        await using var second = share.Open(lease);
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(first, 1, "a")).Verdict);

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < lease * 2)
        {
            await Task.Delay(lease / WitnessLease.RenewalsPerLease);
            Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(first, 1, "a")).Verdict);
            var refused = await VoteAsync(second, 2, "a");
            Assert.Equal(WitnessVerdict.Refused, refused.Verdict);
            Assert.Contains("votes for replica 1", refused.Reason);
        }
    }

    [Fact]
    public async Task SecondNodeTakesOverOnceTheFirstStopsRenewing()
    {
        using var share = new WitnessShare();
        await using var first = share.Open();
        await using var second = share.Open();
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(first, 1, "a")).Verdict);
        var watchStart = Stopwatch.StartNew();

        var answer = await VoteUntilGrantedAsync(second, 2, "a", Patience);

        Assert.Equal(WitnessVerdict.Granted, answer.Verdict);
        // Only after watching the first node's record unchanged for a whole lease.
        Assert.True(watchStart.Elapsed >= Lease, $"taken over after {watchStart.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal(WitnessVerdict.Refused, (await VoteAsync(first, 1, "a")).Verdict);
    }

    [Fact]
    public async Task HolderThatLostTheShareIsUnreachableAndRefusedWhenItComesBack()
    {
        using var share = new WitnessShare();
        // The holder reaches the share through its own "mount": a link that can be cut.
        using var mounts = new TempDirectory();
        string mount = mounts.Combine("share");
        Directory.CreateSymbolicLink(mount, share.Path);
        await using var holder = new FileShareWitness(mount, Device, Lease, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        await using var other = share.Open();
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(holder, 1, "a")).Verdict);

        File.Delete(mount);
        Assert.Equal(WitnessVerdict.Unreachable, (await VoteAsync(holder, 1, "a")).Verdict);
        Assert.Equal(WitnessVerdict.Granted, (await VoteUntilGrantedAsync(other, 2, "a", Patience)).Verdict);

        Directory.CreateSymbolicLink(mount, share.Path);
        var back = await VoteAsync(holder, 1, "a");
        Assert.Equal(WitnessVerdict.Refused, back.Verdict);
        Assert.Contains("votes for replica 2", back.Reason);
    }

    [Fact]
    public async Task StaleGenerationIsRefusedAfterATakeoverAndAfterARestart()
    {
        using var share = new WitnessShare();
        await using (var first = share.Open())
        await using (var second = share.Open())
        {
            // Replica 1 continues alone: a → b.
            Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(first, 1, "a", "b")).Verdict);
            // Its partner, still at a, is refused even once the lease has run out.
            var stale = await VoteUntilGrantedAsync(second, 2, "a", Lease * 2);
            Assert.Equal(WitnessVerdict.Refused, stale.Verdict);
            Assert.Contains("older than generation b", stale.Reason);
            // Synchronized (b, after a), it takes over and continues alone in turn: b → c.
            Assert.Equal(WitnessVerdict.Granted, (await VoteUntilGrantedAsync(second, 2, "b", Patience, "c", ["a"])).Verdict);
            Assert.Equal(WitnessVerdict.Refused, (await VoteUntilGrantedAsync(first, 1, "b", Lease * 2)).Verdict);
        }

        // Every node restarts (new instances on the same folder).
        await using var firstAgain = share.Open();
        await using var secondAgain = share.Open();
        var refused = await VoteUntilGrantedAsync(firstAgain, 1, "b", Lease * 2, history: ["a"]);
        Assert.Equal(WitnessVerdict.Refused, refused.Verdict);
        Assert.Contains("older than generation c", refused.Reason);
        Assert.Equal(WitnessVerdict.Granted, (await VoteUntilGrantedAsync(secondAgain, 2, "c", Patience, history: ["b", "a"])).Verdict);
    }

    [Fact]
    public async Task HolderThatCrashedBeforeSavingItsGenerationIsGrantedTheSameMoveAgain()
    {
        using var share = new WitnessShare();
        await using (var beforeCrash = share.Open())
            Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(beforeCrash, 1, "a", "b")).Verdict);

        // Restarted, it still says a (b was never saved) and asks for the same move.
        await using var afterCrash = share.Open();
        await using var partner = share.Open();
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(afterCrash, 1, "a", "b")).Verdict);
        var partnerAnswer = await VoteUntilGrantedAsync(partner, 2, "a", Lease * 2);
        Assert.Equal(WitnessVerdict.Refused, partnerAnswer.Verdict);
        // A different move from a is not the one recorded.
        Assert.Equal(WitnessVerdict.Refused, (await VoteAsync(afterCrash, 1, "a", "x")).Verdict);
    }

    [Fact]
    public async Task ReleasedVoteGoesToTheOtherNodeAtOnce()
    {
        using var share = new WitnessShare();
        await using var first = share.Open(lease: TimeSpan.FromMinutes(5));
        await using var second = share.Open(lease: TimeSpan.FromMinutes(5));
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(first, 1, "a")).Verdict);
        Assert.Equal(WitnessVerdict.Refused, (await VoteAsync(second, 2, "a")).Verdict);

        await first.ReleaseAsync(1, CancellationToken.None);
        await second.ReleaseAsync(2, CancellationToken.None); // not the holder: no effect

        // A five-minute lease: only the release lets it through now.
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(second, 2, "a")).Verdict);
        Assert.Equal(WitnessVerdict.Refused, (await VoteAsync(first, 1, "a")).Verdict);
    }

    [Fact]
    public async Task TwoNodesRacingForAFreeVoteNeverBothWin()
    {
        Assert.Equal(40, await WitnessRace.RaceForFreeVoteAsync(parent: null, rounds: 40));
    }

    [Fact]
    public async Task TwoNodesRacingForAnExpiringVoteNeverTrustItAtOnce()
    {
        using var share = new WitnessShare();

        var windows = await WitnessRace.RaceForExpiringVoteAsync(share, TimeSpan.FromSeconds(6), seed: 7);

        int handovers = WitnessRace.CheckNoOverlap(windows);
        Assert.True(handovers >= 1, $"the vote changed hands only {handovers} times in {windows.Count} grants");
        // Every step is one record, and the chain has no gaps.
        long[] records = share.Records();
        Assert.Equal(Enumerable.Range(1, records.Length).Select(i => (long)i), records);
    }

    [Theory]
    [InlineData("flipped")]
    [InlineData("truncated")]
    [InlineData("empty")]
    public async Task UnreadableHeadRecordIsNeverTakenForAFreeVote(string damage)
    {
        using var share = new WitnessShare();
        await using (var first = share.Open())
            Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(first, 1, "a", "b")).Verdict);
        Damage(share.Record(1), damage);

        await using var newcomer = share.Open();
        var answer = await VoteUntilGrantedAsync(newcomer, 2, "a", Lease * 2);
        Assert.Equal(WitnessVerdict.Refused, answer.Verdict);
        Assert.Contains("unreadable", answer.Reason);

        // An administrator's force moves past it, but only once it has been watched for a whole lease.
        await using var justStarted = share.Open();
        var early = await justStarted.RequestVoteAsync(Ask(3, "a", force: true), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Refused, early.Verdict);
        Assert.Contains("waiting a whole lease", early.Reason);
        var forced = await newcomer.RequestVoteAsync(Ask(2, "a", "f", force: true), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Granted, forced.Verdict);
        Assert.Equal([1L, 2L], share.Records());
    }

    [Fact]
    public async Task GarbageAsTheFirstRecordIsNotAnEmptyWitness()
    {
        using var share = new WitnessShare();
        File.WriteAllText(share.Record(1), "holder -\n");

        await using var witness = share.Open();
        var answer = await VoteAsync(witness, 1, "a");

        Assert.Equal(WitnessVerdict.Refused, answer.Verdict);
        Assert.Contains("unreadable", answer.Reason);
    }

    [Fact]
    public async Task RecordsThatVanishAreNotAFreshWitness()
    {
        using var share = new WitnessShare();
        await using var witness = share.Open();
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(witness, 1, "a", "b")).Verdict);

        foreach (long sequence in share.Records())
            File.Delete(share.Record(sequence));
        var answer = await VoteAsync(witness, 2, "a");

        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("are gone", answer.Reason);
    }

    [Fact]
    public async Task MissingShareIsUnreachable()
    {
        using var parent = new TempDirectory();
        await using var witness = new FileShareWitness(parent.Combine("not-mounted"), Device, Lease, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var answer = await VoteAsync(witness, 1, "a");

        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("does not exist", answer.Reason);
    }

    [Fact]
    public async Task ShareWithoutTheDeviceFolderIsUnreachableAndNotCreated()
    {
        // An unmounted share's mount point is an empty local folder: voting there would be a private witness.
        using var share = new WitnessShare(provision: false);
        await using var witness = share.Open();

        var answer = await VoteAsync(witness, 1, "a");

        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("tandem witness add", answer.Reason);
        Assert.False(Directory.Exists(share.DeviceFolder));
    }

    [Fact]
    public async Task UnwritableShareIsUnreachable()
    {
        using var share = new WitnessShare();
        using var readOnly = ReadOnlyFolder.Make(share.DeviceFolder);
        await using var witness = share.Open();

        var answer = await VoteAsync(witness, 1, "a");

        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Matches("Read-only file system|Access to the path .* is denied|Permission denied", answer.Reason);
    }

    [Fact]
    public async Task HungShareIsUnreachableWithinTheTimeout()
    {
        using var share = new WitnessShare();
        await using var witness = share.Open(ioTimeout: TimeSpan.FromSeconds(1));
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(witness, 1, "a")).Verdict);
        // Opening a FIFO for reading blocks until a writer comes: like a read on a dead NFS mount.
        string hang = share.Record(2);
        Process.Start("mkfifo", hang).WaitForExit();
        var answer = await VoteAsync(witness, 1, "a");
        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("did not answer", answer.Reason);
        answer = await VoteAsync(witness, 1, "a");
        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("has not returned", answer.Reason);

        // A read-write open of a FIFO never blocks and counts as a writer: the stuck visit goes on
        // (and fails on the FIFO). Once it has returned, the witness answers again.
        WitnessAnswer after;
        using (new FileStream(hang, FileMode.Open, FileAccess.ReadWrite))
        {
            var waited = Stopwatch.StartNew();
            do
            {
                await Task.Delay(50);
                after = await VoteAsync(witness, 1, "a");
            }
            while (after.Reason.Contains("has not returned") && waited.Elapsed < TimeSpan.FromSeconds(10));
        }
        File.Delete(hang);
        Assert.DoesNotContain("has not returned", after.Reason);
    }

    [Fact]
    public async Task OldRecordsArePrunedAndANodeFarBehindReadsTheFolderAgain()
    {
        using var share = new WitnessShare();
        await using var holder = share.Open(keepRecords: 4);
        await using var laggard = share.Open(keepRecords: 4);
        Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(holder, 1, "a")).Verdict);
        Assert.Equal(WitnessVerdict.Refused, (await VoteAsync(laggard, 2, "a")).Verdict);

        for (int i = 0; i < 20; i++)
            Assert.Equal(WitnessVerdict.Granted, (await VoteAsync(holder, 1, "a")).Verdict);

        Assert.Equal([18L, 19L, 20L, 21L], share.Records());
        // Its last view (record 1) is gone: it reads the folder again and still sees the holder.
        Assert.Equal(WitnessVerdict.Refused, (await VoteAsync(laggard, 2, "a")).Verdict);
        Assert.Equal(WitnessVerdict.Granted, (await VoteUntilGrantedAsync(laggard, 2, "a", Patience)).Verdict);
        Assert.Equal(22L, share.Records()[^1]);
    }

    [Theory]
    [InlineData(1, "", "a")]
    [InlineData(1, "a b", "a")]
    [InlineData(1, "-", "a")]
    [InlineData(1, "a\nholder 2", "a")]
    [InlineData(1, "a", "b\n")]
    [InlineData(-1, "a", "a")]
    public async Task MalformedRequestIsTheCallersBug(int node, string generation, string next)
    {
        using var share = new WitnessShare();
        await using var witness = share.Open();

        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await VoteAsync(witness, node, generation, next));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await VoteAsync(witness, 1, "a", history: ["ok", "not ok"]));
        Assert.Empty(share.Records());
    }

    [Fact]
    public void DeviceMustBeAnNaaIdentifier()
    {
        Assert.Throws<ArgumentException>(() => FileShareWitness.Provision(Path.GetTempPath(), "../etc"));
    }

    private static void Damage(string path, string how)
    {
        byte[] bytes = File.ReadAllBytes(path);
        switch (how)
        {
            case "flipped":
                int at = Array.IndexOf(bytes, (byte)'1');
                bytes[at] = (byte)'2';
                File.WriteAllBytes(path, bytes);
                break;
            case "truncated":
                File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
                break;
            default:
                File.WriteAllBytes(path, []);
                break;
        }
    }
}
