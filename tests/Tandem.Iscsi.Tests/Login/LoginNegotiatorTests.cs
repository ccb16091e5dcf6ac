using System.Net;
using System.Text;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Pdu;
using Tandem.Iscsi.Targets;
using Tandem.Iscsi.Tests.Support;
using Tandem.Iscsi.Text;

namespace Tandem.Iscsi.Tests.Login;

public class LoginNegotiatorTests
{
    private const string Initiator = "iqn.2026-11.org.tandem:host1";
    private const string Open = "iqn.2026-11.org.tandem:open";
    private const string Guarded = "iqn.2026-11.org.tandem:guarded";
    private const string Chapped = "iqn.2026-11.org.tandem:chap";

    private static TestCatalog Catalog() => new(
        new IscsiTargetDefinition { Name = Open, Alias = "open disk", Scsi = new RamScsiTarget(1024 * 1024) },
        new IscsiTargetDefinition
        {
            Name = Guarded,
            Scsi = new RamScsiTarget(1024 * 1024),
            Access = new TargetAccessPolicy([Initiator.ToUpperInvariant()], [IPNetwork.Parse("10.1.0.0/16")], null, null),
        },
        new IscsiTargetDefinition
        {
            Name = Chapped,
            Scsi = new RamScsiTarget(1024 * 1024),
            Access = new TargetAccessPolicy([], [], new ChapCredentials("alice", "alice-secret-12"), null),
        });

    private static LoginNegotiator New(string remote = "10.1.2.3") => new(Catalog(), new ChapChallengeHistory(), IPAddress.Parse(remote), 7);

    private static LoginRequestHeader Request(byte flags) => new(flags, 0, 0, 0x4000_0000_0001, 0, 1, 5, 10, 0);

    private static byte[] Keys(params string[] pairs) => Encoding.ASCII.GetBytes(string.Concat(pairs.Select(p => p + "\0")));

    private static Dictionary<string, string> Answers(LoginStep step) =>
        TextParameters.Parse(step.Text).ToDictionary(p => p.Key, p => p.Value);

    private const byte OperationalToFullFeature = 0x80 | 0x04 | 0x03;
    private const byte SecurityToOperational = 0x80 | 0x01;

    [Fact]
    public void OneStepOperationalLoginReachesFullFeaturePhase()
    {
        LoginNegotiator login = New();
        LoginStep step = login.Process(Request(OperationalToFullFeature), Keys(
            $"InitiatorName={Initiator}", $"TargetName={Open}", "SessionType=Normal", "HeaderDigest=CRC32C,None",
            "MaxRecvDataSegmentLength=131072", "MaxBurstLength=262144", "FirstBurstLength=262144", "X-vendor.key=1"));
        Assert.Equal(LoginStatus.Success, step.Status);
        Assert.True(step.EntersFullFeaturePhase);
        var answers = Answers(step);
        Assert.Equal("7", answers["TargetPortalGroupTag"]);
        Assert.Equal("CRC32C", answers["HeaderDigest"]);
        Assert.Equal("NotUnderstood", answers["X-vendor.key"]);
        Assert.Equal(IscsiLimits.TargetMaxRecvDataSegmentLength.ToString(), answers["MaxRecvDataSegmentLength"]);
        Assert.Equal("open disk", answers["TargetAlias"]);
        Assert.Equal(131072, login.Parameters.InitiatorMaxRecvDataSegmentLength);
        Assert.Equal(262144, login.Parameters.FirstBurstLength);
        Assert.True(login.Parameters.HeaderDigest);
    }

    [Fact]
    public void SecurityStageWithoutChapMovesOn()
    {
        LoginNegotiator login = New();
        LoginStep step = login.Process(Request(SecurityToOperational), Keys($"InitiatorName={Initiator}", $"TargetName={Open}", "AuthMethod=CHAP,None"));
        Assert.True(step.Transit);
        Assert.Equal(LoginStage.OperationalNegotiation, step.NextStage);
        Assert.Equal("None", Answers(step)["AuthMethod"]);
        step = login.Process(Request(OperationalToFullFeature), Keys("MaxBurstLength=65536"));
        Assert.True(step.EntersFullFeaturePhase);
    }

    [Theory]
    [InlineData("TargetName=" + Open, (ushort)LoginStatus.MissingParameter)]
    [InlineData("InitiatorName=" + Initiator + "\0TargetName=iqn.2026-11.org.tandem:nope", (ushort)LoginStatus.TargetNotFound)]
    [InlineData("InitiatorName=" + Initiator, (ushort)LoginStatus.MissingParameter)]
    [InlineData("InitiatorName=" + Initiator + "\0SessionType=Weird", (ushort)LoginStatus.SessionTypeNotSupported)]
    [InlineData("InitiatorName=" + Initiator + "\0garbage", (ushort)LoginStatus.InitiatorError)]
    public void BadFirstRequestsFail(string text, ushort expected)
    {
        LoginStep step = New().Process(Request(OperationalToFullFeature), Keys(text));
        Assert.Equal((LoginStatus)expected, step.Status);
        Assert.False(step.EntersFullFeaturePhase);
    }

    [Fact]
    public void AccessListsAreEnforced()
    {
        Assert.Equal(LoginStatus.Success, New("10.1.9.9").Process(Request(OperationalToFullFeature), Keys($"InitiatorName={Initiator}", $"TargetName={Guarded}")).Status);
        Assert.Equal(LoginStatus.AuthorizationFailure, New("10.2.0.1").Process(Request(OperationalToFullFeature), Keys($"InitiatorName={Initiator}", $"TargetName={Guarded}")).Status);
        Assert.Equal(LoginStatus.AuthorizationFailure, New("10.1.0.1").Process(Request(OperationalToFullFeature), Keys("InitiatorName=iqn.2026-11.org.tandem:other", $"TargetName={Guarded}")).Status);
    }

    [Fact]
    public void UnsupportedVersionAndBadStagesFail()
    {
        Assert.Equal(LoginStatus.UnsupportedVersion, New().Process(Request(OperationalToFullFeature) with { VersionMin = 1 }, Keys($"InitiatorName={Initiator}")).Status);
        Assert.Equal(LoginStatus.InitiatorError, New().Process(Request(0x80 | 0x0C | 0x03), Keys($"InitiatorName={Initiator}")).Status); // CSG=3
        Assert.Equal(LoginStatus.InitiatorError, New().Process(Request(0xC0 | 0x04 | 0x03), Keys($"InitiatorName={Initiator}")).Status); // T and C
        Assert.Equal(LoginStatus.InitiatorError, New().Process(Request(0x80 | 0x04 | 0x01), Keys($"InitiatorName={Initiator}")).Status); // NSG <= CSG
    }

    [Fact]
    public void ChangingIsidMidLoginFails()
    {
        LoginNegotiator login = New();
        Assert.Equal(LoginStatus.Success, login.Process(Request(0x00), Keys($"InitiatorName={Initiator}", $"TargetName={Open}", "AuthMethod=None")).Status);
        Assert.Equal(LoginStatus.InitiatorError, login.Process(Request(SecurityToOperational) with { Isid = 99 }, []).Status);
    }

    [Fact]
    public void ContinuedTextIsGathered()
    {
        LoginNegotiator login = New();
        byte[] all = Keys($"InitiatorName={Initiator}", $"TargetName={Open}");
        LoginStep first = login.Process(Request(0x40 | 0x04), all.AsSpan(0, 10));
        Assert.Equal(LoginStatus.Success, first.Status);
        Assert.False(first.Transit);
        Assert.Empty(first.Text);
        LoginStep second = login.Process(Request(OperationalToFullFeature), all.AsSpan(10));
        Assert.True(second.EntersFullFeaturePhase);
        Assert.Equal(Open, login.TargetName);
    }

    private static (LoginNegotiator Login, Dictionary<string, string> Challenge) StartChap(string algorithms = "5")
    {
        LoginNegotiator login = New();
        LoginStep step = login.Process(Request(SecurityToOperational), Keys($"InitiatorName={Initiator}", $"TargetName={Chapped}", "AuthMethod=None,CHAP"));
        Assert.Equal("CHAP", Answers(step)["AuthMethod"]);
        Assert.False(step.Transit);
        step = login.Process(Request(0x00), Keys($"CHAP_A={algorithms}"));
        Assert.Equal(LoginStatus.Success, step.Status);
        return (login, Answers(step));
    }

    private static string Response(Dictionary<string, string> challenge, string secret) =>
        "0x" + Convert.ToHexString(TestInitiator.ChapResponse(int.Parse(challenge["CHAP_A"]), byte.Parse(challenge["CHAP_I"]), secret, Convert.FromHexString(challenge["CHAP_C"][2..])));

    [Theory]
    [InlineData("5", "5")]
    [InlineData("7,5", "7")]
    [InlineData("99,5", "5")]
    public void ChapSucceedsWithTheRightSecret(string offered, string chosen)
    {
        var (login, challenge) = StartChap(offered);
        Assert.Equal(chosen, challenge["CHAP_A"]);
        LoginStep step = login.Process(Request(SecurityToOperational), Keys("CHAP_N=alice", $"CHAP_R={Response(challenge, "alice-secret-12")}"));
        Assert.Equal(LoginStatus.Success, step.Status);
        Assert.True(step.Transit);
    }

    [Fact]
    public void ChapFailsWithWrongSecretOrUser()
    {
        var (login, challenge) = StartChap();
        Assert.Equal(LoginStatus.AuthenticationFailure, login.Process(Request(SecurityToOperational), Keys("CHAP_N=alice", $"CHAP_R={Response(challenge, "wrong-secret-99")}")).Status);
        (login, challenge) = StartChap();
        Assert.Equal(LoginStatus.AuthenticationFailure, login.Process(Request(SecurityToOperational), Keys("CHAP_N=mallory", $"CHAP_R={Response(challenge, "alice-secret-12")}")).Status);
    }

    [Fact]
    public void ChapCannotBeSkipped()
    {
        LoginStep step = New().Process(Request(OperationalToFullFeature), Keys($"InitiatorName={Initiator}", $"TargetName={Chapped}"));
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Status);
        step = New().Process(Request(SecurityToOperational), Keys($"InitiatorName={Initiator}", $"TargetName={Chapped}", "AuthMethod=None"));
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Status);
    }

    [Fact]
    public void UnsupportedChapAlgorithmFails()
    {
        LoginNegotiator login = New();
        login.Process(Request(SecurityToOperational), Keys($"InitiatorName={Initiator}", $"TargetName={Chapped}", "AuthMethod=CHAP"));
        LoginStep step = login.Process(Request(0x00), Keys("CHAP_A=6"));
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Status);
    }

    [Fact]
    public void MutualChapWithoutTargetCredentialsFails()
    {
        var (login, challenge) = StartChap();
        LoginStep step = login.Process(Request(SecurityToOperational), Keys("CHAP_N=alice", $"CHAP_R={Response(challenge, "alice-secret-12")}", "CHAP_I=3", "CHAP_C=0x0102030405060708"));
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Status);
    }

    [Fact]
    public void ChapResponseOutOfOrderIsAnInitiatorError()
    {
        LoginNegotiator login = New();
        login.Process(Request(0x00), Keys($"InitiatorName={Initiator}", $"TargetName={Chapped}", "AuthMethod=CHAP"));
        Assert.Equal(LoginStatus.InitiatorError, login.Process(Request(SecurityToOperational), Keys("CHAP_N=alice", "CHAP_R=0x00")).Status);
    }
}
