using System.Net;
using Tandem.Node.Devices;
using Tandem.Node.HighAvailability;
using Tandem.Node.Tests.Support;
using Tandem.Replication.Links;
using Tandem.Storage;

namespace Tandem.Node.Tests.Witness;

/// <summary>
/// Two data nodes (A, replica 1; B, replica 2) in one cluster and a spare node W for the witness, all on
/// 127.0.0.1. HA devices are created on both data nodes through the partner-device call with a chosen
/// failover strategy (replica add does not choose one yet on this branch). Each data node records the
/// witnesses it is told to use instead of applying them (<see cref="DeviceManager.ApplyWitness"/>).
/// </summary>
internal sealed class WitnessLab : IAsyncDisposable
{
    public const long SizeBytes = 1 << 20;

    private WitnessLab(TestNode a, TestNode b, TestNode w, ClusterCredentials cluster)
    {
        (A, B, W, Cluster) = (a, b, w, cluster);
        Record(a, AppliedOnA);
        Record(b, AppliedOnB);
    }

    public TestNode A { get; }
    public TestNode B { get; }
    public TestNode W { get; }
    public ClusterCredentials Cluster { get; }
    public List<WitnessHeader?> AppliedOnA { get; } = [];
    public List<WitnessHeader?> AppliedOnB { get; } = [];
    public string WitnessAddress => W.Node.ApiEndpoint.ToString();

    /// <param name="recordWitnesses">False: the data nodes apply witnesses for real (SetWitnessAsync).</param>
    public static async Task<WitnessLab> StartAsync(bool recordWitnesses = true)
    {
        var nodes = new List<TestNode>();
        try
        {
            for (int i = 0; i < 3; i++)
                nodes.Add(await TestNode.StartAsync());
            var cluster = ClusterCredentials.CreateNew();
            foreach (var node in nodes.Take(2))
            {
                var joined = await node.PostJsonAsync("api/v1/cluster/join", new JoinClusterRequest { ClusterId = cluster.ClusterId.ToString(), Secret = cluster.SecretBase64 });
                Assert.Equal(HttpStatusCode.NoContent, joined.StatusCode);
            }
            var lab = new WitnessLab(nodes[0], nodes[1], nodes[2], cluster);
            if (!recordWitnesses)
            {
                lab.A.Node.Devices.ApplyWitness = static (device, witness) => device.SetWitnessAsync(witness);
                lab.B.Node.Devices.ApplyWitness = static (device, witness) => device.SetWitnessAsync(witness);
            }
            return lab;
        }
        catch
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates the HA device on A and B (as if mirrored with --init none); returns its NAA.</summary>
    /// <param name="extraMember">A third member recorded on A only (a three-way device whose third node is not running).</param>
    public async Task<string> CreateHaDeviceAsync(string name, string? failover = ReplicationHeader.NodeMajorityFailover, bool extraMember = false)
    {
        var identity = DeviceIdentity.CreateNew();
        ReplicaNodeHeader Member(int id, TestNode node) => new()
        {
            NodeId = id,
            NodeName = node.Node.NodeName,
            Api = node.Node.ApiEndpoint.ToString(),
            SyncChannels = node.Node.Devices.ReplicationEndpoints.Select(e => e.ToString()).ToArray(),
            HeartbeatChannels = [],
            Priority = id,
            State = "synchronized",
        };
        var members = new List<ReplicaNodeHeader> { Member(1, A), Member(2, B) };
        if (extraMember)
            members.Add(Member(3, W) with { Api = "127.0.0.1:9", SyncChannels = ["127.0.0.1:9"] });
        var header = new ReplicationHeader
        {
            ClusterId = Cluster.ClusterId.ToString(),
            LocalNodeId = 1,
            Nodes = members,
            State = "synchronized",
            Generation = "0123456789abcdef",
            Failover = failover,
        };
        foreach (var (node, id) in extraMember ? [(A, 1)] : new[] { (A, 1), (B, 2) })
        {
            var created = await node.PostJsonAsync("api/v1/replication/partner-devices", new PartnerDeviceRequest
            {
                Name = name,
                SizeBytes = SizeBytes,
                SectorSize = 512,
                Provisioning = "thin",
                Naa = identity.NaaHex,
                Serial = identity.Serial,
                TargetName = $"iqn.2026-11.org.tandem:ha-{name}",
                Replication = header with { LocalNodeId = id },
            });
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }
        return identity.NaaHex;
    }

    private static void Record(TestNode node, List<WitnessHeader?> applied) =>
        node.Node.Devices.ApplyWitness = (_, witness) =>
        {
            lock (applied)
                applied.Add(witness);
            return Task.CompletedTask;
        };

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await W.DisposeAsync();
    }
}
