namespace Tandem.Replication.Tests.Failover;

/// <summary>The race tests again, on a real NFS or SMB mount (where the client's caches are real).</summary>
public sealed class FileShareWitnessOnRealShareTests
{
    [RealShareFact]
    public async Task TwoNodesRacingForAFreeVoteNeverBothWin()
    {
        string parent = RealShareFactAttribute.Find(out _)!;
        Assert.Equal(20, await WitnessRace.RaceForFreeVoteAsync(parent, rounds: 20));
    }

    [RealShareFact]
    public async Task TwoNodesRacingForAnExpiringVoteNeverTrustItAtOnce()
    {
        using var share = new WitnessShare(RealShareFactAttribute.Find(out _));

        var windows = await WitnessRace.RaceForExpiringVoteAsync(share, TimeSpan.FromSeconds(6), seed: 11);

        Assert.True(WitnessRace.CheckNoOverlap(windows) >= 1, "the vote should have changed hands");
    }
}
