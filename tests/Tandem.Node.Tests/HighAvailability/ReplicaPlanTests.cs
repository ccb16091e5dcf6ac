using Tandem.Node.Api.Models;
using Tandem.Node.Errors;
using Tandem.Node.HighAvailability;

namespace Tandem.Node.Tests.HighAvailability;

/// <summary>Which partner each <c>--sync-channel</c> / <c>--heartbeat-channel</c> belongs to.</summary>
public sealed class ReplicaPlanTests
{
    private static readonly string[] Advertised = ["0.0.0.0:3262"];

    [Fact]
    public void One_partner_owns_every_channel_given()
    {
        var plan = ReplicaPlan.From(new AddReplicaRequest { Partners = ["127.0.0.2:3261"], SyncChannels = ["198.18.2.2", "198.18.4.2:4000"] });
        Assert.Equal(["198.18.2.2:3262", "198.18.4.2:4000"], plan.ChannelsFor("127.0.0.2:3261", plan.SyncChannels, Advertised));
    }

    [Fact]
    public void Channels_on_a_partners_api_host_are_its_own()
    {
        var plan = ReplicaPlan.From(new AddReplicaRequest { Partners = ["127.0.0.2:3261", "127.0.0.3:3261"], SyncChannels = ["127.0.0.3:5000", "127.0.0.2:5000"] });
        Assert.Equal(["127.0.0.2:5000"], plan.ChannelsFor("127.0.0.2:3261", plan.SyncChannels, Advertised));
        Assert.Equal(["127.0.0.3:5000"], plan.ChannelsFor("127.0.0.3:3261", plan.SyncChannels, Advertised));
    }

    [Fact]
    public void Channels_on_a_separate_network_go_to_the_partners_in_order()
    {
        var plan = ReplicaPlan.From(new AddReplicaRequest
        {
            Partners = ["198.19.1.2:3261", "198.19.1.3:3261"],
            SyncChannels = ["198.18.2.2:3262", "198.18.2.3:3262"],
            HeartbeatChannels = ["198.18.3.2", "198.18.3.3"],
        });
        Assert.Equal(["198.18.2.2:3262"], plan.ChannelsFor("198.19.1.2:3261", plan.SyncChannels, Advertised));
        Assert.Equal(["198.18.2.3:3262"], plan.ChannelsFor("198.19.1.3:3261", plan.SyncChannels, Advertised));
        Assert.Equal(["198.18.3.3:3262"], plan.ChannelsFor("198.19.1.3:3261", plan.HeartbeatChannels, []));
    }

    [Fact]
    public void Without_channels_a_partner_is_dialled_where_it_advertises()
    {
        var plan = ReplicaPlan.From(new AddReplicaRequest { Partners = ["127.0.0.2:3261", "127.0.0.3:3261"] });
        Assert.Equal(["127.0.0.3:3262"], plan.ChannelsFor("127.0.0.3:3261", plan.SyncChannels, Advertised));
    }

    [Fact]
    public void A_channel_that_belongs_to_no_one_is_refused()
    {
        var error = Assert.Throws<TandemException>(() => ReplicaPlan.From(new AddReplicaRequest
        {
            Partners = ["198.19.1.2:3261", "198.19.1.3:3261"],
            SyncChannels = ["198.18.2.2", "198.18.2.3", "198.18.2.4"],
        }));
        Assert.Contains("--sync-channel", error.Message);
    }

    [Fact]
    public void Failover_priorities_and_alua_have_defaults_and_may_be_given_per_partner()
    {
        var defaults = ReplicaPlan.From(new AddReplicaRequest { Partners = ["127.0.0.2:3261", "127.0.0.3:3261"] });
        Assert.Equal(("heartbeat", 1, true), (defaults.Failover, defaults.LocalPriority, defaults.LocalOptimized));
        Assert.Equal([2, 2], defaults.Priorities);
        Assert.Equal([true, true], defaults.Optimized);

        var given = ReplicaPlan.From(new AddReplicaRequest
        {
            Partners = ["127.0.0.2:3261", "127.0.0.3:3261"],
            Failover = "Node-Majority",
            Priorities = [4, 3],
            LocalPriority = 9,
            AluaPerPartner = ["non-optimized", "optimized"],
            LocalAlua = "non-optimized",
        });
        Assert.Equal(("node-majority", 9, false), (given.Failover, given.LocalPriority, given.LocalOptimized));
        Assert.Equal([4, 3], given.Priorities);
        Assert.Equal([false, true], given.Optimized);
    }

    public static TheoryData<AddReplicaRequest, string> BadFailoverRequests => new()
    {
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], Failover = "majority" }, "Failover 'majority' is unknown" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], Priority = 2, Priorities = [2] }, "not both" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], Priorities = [2, 3] }, "one priority per partner" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], LocalPriority = 0 }, "Priority 0 is not 1-255" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], Priorities = [300] }, "Priority 300 is not 1-255" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], AluaPerPartner = ["optimized", "optimized"] }, "one ALUA preference per partner" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], Alua = "optimized", AluaPerPartner = ["optimized"] }, "not both" },
        { new AddReplicaRequest { Partners = ["127.0.0.2:3261"], LocalAlua = "standby" }, "ALUA 'standby' is unknown" },
    };

    [Theory]
    [MemberData(nameof(BadFailoverRequests))]
    public void Bad_failover_settings_are_refused_clearly(AddReplicaRequest request, string message) =>
        Assert.Contains(message, Assert.Throws<TandemException>(() => ReplicaPlan.From(request)).Message);
}
