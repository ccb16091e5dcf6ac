using Tandem.Iscsi.Login;

namespace Tandem.Iscsi.Tests.Login;

public class ChapTests
{
    [Fact]
    public void Md5ResponseMatchesAnIndependentComputation()
    {
        // MD5(0x01 || "password" || 01..10), computed with Python's hashlib.
        byte[] challenge = Convert.FromHexString("0102030405060708090a0b0c0d0e0f10");
        byte[] response = Chap.ComputeResponse(ChapAlgorithm.Md5, 1, "password", challenge);
        Assert.Equal("bb72d75a86a343a00439caf2a126b146", Convert.ToHexStringLower(response));
    }

    [Fact]
    public void Sha256ResponseMatchesAnIndependentComputation()
    {
        byte[] response = Chap.ComputeResponse(ChapAlgorithm.Sha256, 7, "secret", [0xDE, 0xAD, 0xBE, 0xEF]);
        Assert.Equal("75834775a642c480b0ad6c72c4b0b67a538fbbf0008197ff59d267beb027c3ab", Convert.ToHexStringLower(response));
    }

    [Fact]
    public void VerifyRejectsWrongSecretAndLength()
    {
        byte[] challenge = [1, 2, 3];
        byte[] good = Chap.ComputeResponse(ChapAlgorithm.Md5, 9, "s3cret-s3cret", challenge);
        Assert.True(Chap.Verify(ChapAlgorithm.Md5, 9, "s3cret-s3cret", challenge, good));
        Assert.False(Chap.Verify(ChapAlgorithm.Md5, 9, "other-secret", challenge, good));
        Assert.False(Chap.Verify(ChapAlgorithm.Md5, 8, "s3cret-s3cret", challenge, good));
        Assert.False(Chap.Verify(ChapAlgorithm.Md5, 9, "s3cret-s3cret", challenge, good[..15]));
    }

    [Fact]
    public void AlgorithmsParse()
    {
        Assert.True(Chap.TryParseAlgorithm("5", out var md5));
        Assert.Equal(ChapAlgorithm.Md5, md5);
        Assert.True(Chap.TryParseAlgorithm("7", out var sha));
        Assert.Equal(ChapAlgorithm.Sha256, sha);
        Assert.False(Chap.TryParseAlgorithm("6", out _));
    }

    [Fact]
    public void HistoryRemembersIssuedChallenges()
    {
        var history = new ChapChallengeHistory();
        byte[] challenge = history.NewChallenge(16);
        Assert.Equal(16, challenge.Length);
        Assert.True(history.WasIssued(challenge));
        Assert.False(history.WasIssued(new byte[16]));
    }
}
