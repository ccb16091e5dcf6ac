using Tandem.Scsi.Transport;

namespace Tandem.Scsi.Tests;

public sealed class ITNexusTests
{
    [Fact]
    public void Port_names_follow_RFC_7143()
    {
        var nexus = new ITNexus("iqn.2026-01.test:host", 0x23D000000001, "iqn.2026-11.org.tandem:n-disk", 1, 1, 1);
        Assert.Equal("iqn.2026-01.test:host,i,0x23d000000001", nexus.InitiatorPortName);
        Assert.Equal("iqn.2026-11.org.tandem:n-disk,t,0x0001", nexus.TargetPortName);
    }

    [Fact]
    public void With_copy_recomputes_port_names()
    {
        var original = new ITNexus("iqn.2026-01.test:host", 1, "iqn.2026-11.org.tandem:n-disk", 1, 1, 1);
        _ = original.InitiatorPortName;
        _ = original.TargetPortName;
        var copy = original with { Isid = 2, PortalGroupTag = 3 };
        Assert.Equal("iqn.2026-01.test:host,i,0x000000000002", copy.InitiatorPortName);
        Assert.Equal("iqn.2026-11.org.tandem:n-disk,t,0x0003", copy.TargetPortName);
    }
}
