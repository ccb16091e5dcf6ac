using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Tests;

public sealed class ITNexusTests
{
    private static readonly ITNexus Nexus = new("iqn.2026-01.test:host", 0x23D000000001, "iqn.2026-11.org.tandem:n-disk", 1, 1, 1);

    [Fact]
    public void Port_names_follow_RFC_7143()
    {
        Assert.Equal("iqn.2026-01.test:host,i,0x23d000000001", Nexus.InitiatorPortName);
        Assert.Equal("iqn.2026-11.org.tandem:n-disk,t,0x0001", Nexus.TargetPortName);
    }

    [Fact]
    public void Equal_identity_is_the_same_nexus_and_hashes_alike()
    {
        var again = new ITNexus("iqn.2026-01.test:host", 0x23D000000001, "iqn.2026-11.org.tandem:n-disk", 1, 1, 1);
        Assert.Equal(Nexus, again);
        Assert.Equal(Nexus.GetHashCode(), again.GetHashCode());
        Assert.NotEqual(Nexus, new ITNexus("iqn.2026-01.test:host", 0x23D000000002, "iqn.2026-11.org.tandem:n-disk", 1, 1, 1));
    }

    [Fact]
    public void Another_target_port_is_another_nexus_with_the_same_initiator_port()
    {
        var viaNode2 = Nexus.WithTargetPort(relativeTargetPortId: 2, targetPortGroupId: 2);
        Assert.NotEqual(Nexus, viaNode2);
        Assert.Equal(Nexus.InitiatorPortName, viaNode2.InitiatorPortName);
        Assert.Equal(2, viaNode2.TargetPortGroupId);
    }
}
