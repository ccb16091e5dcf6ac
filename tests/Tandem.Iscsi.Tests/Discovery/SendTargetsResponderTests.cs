using System.Net;
using Tandem.Iscsi.Discovery;
using Tandem.Iscsi.Targets;
using Tandem.Iscsi.Tests.Support;

namespace Tandem.Iscsi.Tests.Discovery;

public class SendTargetsResponderTests
{
    private static readonly TestCatalog Catalog = new(
        new IscsiTargetDefinition { Name = "iqn.2026-11.org.tandem:b", Scsi = new RamScsiTarget(512 * 1024) },
        new IscsiTargetDefinition { Name = "iqn.2026-11.org.tandem:a", Scsi = new RamScsiTarget(512 * 1024) },
        new IscsiTargetDefinition
        {
            Name = "iqn.2026-11.org.tandem:private",
            Scsi = new RamScsiTarget(512 * 1024),
            Access = new TargetAccessPolicy([], [IPNetwork.Parse("192.0.2.0/24")], null, null),
        });

    [Fact]
    public void AllListsVisibleTargetsWithEveryPortal()
    {
        var portals = new[] { new IPEndPoint(IPAddress.Parse("127.0.0.1"), 3260), new IPEndPoint(IPAddress.Any, 3270), new IPEndPoint(IPAddress.Parse("::1"), 3260) };
        var local = new IPEndPoint(IPAddress.Parse("127.0.0.5"), 3270);
        var answer = SendTargetsResponder.Answer("All", Catalog, "iqn.x:i", IPAddress.Loopback, local, portals, 3, null);
        Assert.Equal(
            [
                "TargetName=iqn.2026-11.org.tandem:a", "TargetAddress=127.0.0.1:3260,3", "TargetAddress=127.0.0.5:3270,3", "TargetAddress=[::1]:3260,3",
                "TargetName=iqn.2026-11.org.tandem:b", "TargetAddress=127.0.0.1:3260,3", "TargetAddress=127.0.0.5:3270,3", "TargetAddress=[::1]:3260,3",
            ],
            answer.Select(p => $"{p.Key}={p.Value}"));
    }

    [Fact]
    public void AccessListHidesTargets()
    {
        var portals = new[] { new IPEndPoint(IPAddress.Loopback, 3260) };
        var local = new IPEndPoint(IPAddress.Loopback, 3260);
        Assert.DoesNotContain(SendTargetsResponder.Answer("All", Catalog, "iqn.x:i", IPAddress.Loopback, local, portals, 1, null), p => p.Value.EndsWith("private"));
        Assert.Contains(SendTargetsResponder.Answer("All", Catalog, "iqn.x:i", IPAddress.Parse("192.0.2.9"), local, portals, 1, null), p => p.Value.EndsWith("private"));
        Assert.Empty(SendTargetsResponder.Answer("iqn.2026-11.org.tandem:private", Catalog, "iqn.x:i", IPAddress.Loopback, local, portals, 1, null));
    }

    [Fact]
    public void NamedAndEmptyValues()
    {
        var portals = new[] { new IPEndPoint(IPAddress.Loopback, 3260) };
        var local = new IPEndPoint(IPAddress.Loopback, 3260);
        Assert.Equal(2, SendTargetsResponder.Answer("iqn.2026-11.org.tandem:a", Catalog, "iqn.x:i", IPAddress.Loopback, local, portals, 1, null).Count);
        Assert.Empty(SendTargetsResponder.Answer("iqn.2026-11.org.tandem:none", Catalog, "iqn.x:i", IPAddress.Loopback, local, portals, 1, null));
        var own = SendTargetsResponder.Answer("", Catalog, "iqn.x:i", IPAddress.Loopback, local, portals, 1, "iqn.2026-11.org.tandem:b");
        Assert.Equal("iqn.2026-11.org.tandem:b", own[0].Value);
    }

    [Fact]
    public void AccessMatchesMappedAddressesAndNamesCaseInsensitively()
    {
        var policy = new TargetAccessPolicy(["IQN.2026-11.ORG.TANDEM:HOST"], [IPNetwork.Parse("10.0.0.0/8")], null, null);
        Assert.True(TargetAccess.IsAllowed(policy, "iqn.2026-11.org.tandem:host", IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.False(TargetAccess.IsAllowed(policy, "iqn.2026-11.org.tandem:host", IPAddress.Parse("11.1.2.3")));
        Assert.True(TargetAccess.IsAllowed(TargetAccessPolicy.AllowAll, "anything", IPAddress.IPv6Loopback));
    }
}
