using Tandem.Iscsi.Login;

namespace Tandem.Iscsi.Tests.Login;

public class OperationalKeyNegotiatorTests
{
    private static (string? Answer, SessionParameters P) Answer(string key, string value, bool discovery = false)
    {
        var p = new SessionParameters();
        return (OperationalKeyNegotiator.Answer(key, value, discovery, p), p);
    }

    [Fact]
    public void DigestTakesTheInitiatorsFirstSupportedChoice()
    {
        var (a, p) = Answer("HeaderDigest", "CRC32C,None");
        Assert.Equal("CRC32C", a);
        Assert.True(p.HeaderDigest);
        (a, p) = Answer("DataDigest", "None,CRC32C");
        Assert.Equal("None", a);
        Assert.False(p.DataDigest);
        Assert.Equal("Reject", Answer("HeaderDigest", "MD5").Answer);
    }

    [Fact]
    public void BurstLengthsTakeTheMinimum()
    {
        var (a, p) = Answer("MaxBurstLength", "262144");
        Assert.Equal("262144", a);
        Assert.Equal(262144, p.MaxBurstLength);
        (a, p) = Answer("FirstBurstLength", "262144");
        Assert.Equal(262144, p.FirstBurstLength);
        Assert.Equal("16777215", Answer("MaxBurstLength", "16777215").Answer);
        Assert.Equal("Reject", Answer("MaxBurstLength", "100").Answer);
        Assert.Equal("Reject", Answer("MaxBurstLength", "banana").Answer);
    }

    [Fact]
    public void MaxOutstandingR2TIsCappedAtOurLimit()
    {
        var (a, p) = Answer("MaxOutstandingR2T", "65535");
        Assert.Equal(IscsiLimits.TargetMaxOutstandingR2T.ToString(), a);
        Assert.Equal(IscsiLimits.TargetMaxOutstandingR2T, p.MaxOutstandingR2T);
        Assert.Equal("4", Answer("MaxOutstandingR2T", "4").Answer);
    }

    [Fact]
    public void BooleansFollowTheirResultFunctions()
    {
        Assert.Equal("No", Answer("InitialR2T", "No").Answer); // OR with our No
        Assert.Equal("Yes", Answer("InitialR2T", "Yes").Answer);
        Assert.Equal("Yes", Answer("ImmediateData", "Yes").Answer); // AND with our Yes
        Assert.Equal("No", Answer("ImmediateData", "No").Answer);
        Assert.Equal("Yes", Answer("DataPDUInOrder", "No").Answer); // OR with our Yes
        Assert.Equal("No", Answer("IFMarker", "Yes").Answer);
        Assert.Equal("Reject", Answer("InitialR2T", "Maybe").Answer);
    }

    [Fact]
    public void SessionLevelLimits()
    {
        Assert.Equal("1", Answer("MaxConnections", "8").Answer);
        Assert.Equal("0", Answer("ErrorRecoveryLevel", "2").Answer);
        Assert.Equal("2", Answer("DefaultTime2Wait", "0").Answer); // maximum
        Assert.Equal("0", Answer("DefaultTime2Retain", "20").Answer); // minimum
        Assert.Equal("RFC3720", Answer("TaskReporting", "ResponseFence,RFC3720").Answer);
    }

    [Fact]
    public void DeclarativesGetNoAnswer()
    {
        var (a, p) = Answer("MaxRecvDataSegmentLength", "65536");
        Assert.Null(a);
        Assert.Equal(65536, p.InitiatorMaxRecvDataSegmentLength);
        Assert.Null(Answer("InitiatorAlias", "host").Answer);
        Assert.Equal("Reject", Answer("MaxRecvDataSegmentLength", "1").Answer);
    }

    [Fact]
    public void UnknownKeysAreNotUnderstood()
    {
        Assert.Equal("NotUnderstood", Answer("X-com.example.Thing", "1").Answer);
        Assert.Equal("NotUnderstood", Answer("Bogus", "1").Answer);
    }

    [Fact]
    public void SessionKeysAreIrrelevantInDiscovery()
    {
        Assert.Equal("Irrelevant", Answer("MaxBurstLength", "262144", discovery: true).Answer);
        Assert.Equal("Irrelevant", Answer("InitialR2T", "No", discovery: true).Answer);
        Assert.Equal("CRC32C", Answer("HeaderDigest", "CRC32C", discovery: true).Answer);
    }
}
