using System.Net;
using Tandem.Iscsi.Targets;

namespace Tandem.Iscsi.Tests.Support;

/// <summary>A real <see cref="IscsiServer"/> on 127.0.0.1 with an ephemeral port, stopped on dispose.</summary>
public sealed class ServerFixture : IAsyncDisposable
{
    public const string TargetName = "iqn.2026-11.org.tandem:unit-disk";
    public const string HiddenTargetName = "iqn.2026-11.org.tandem:hidden";
    public const string ChapTargetName = "iqn.2026-11.org.tandem:chap-disk";

    private ServerFixture(IscsiServer server, TestCatalog catalog, RamScsiTarget scsi)
    {
        Server = server;
        Catalog = catalog;
        Scsi = scsi;
    }

    public IscsiServer Server { get; }
    public TestCatalog Catalog { get; }
    public RamScsiTarget Scsi { get; }
    public IPEndPoint EndPoint => Server.BoundPortals[0];

    public static async Task<ServerFixture> StartAsync(IscsiServerOptions? options = null, Action<TestCatalog>? configure = null)
    {
        var scsi = new RamScsiTarget(8L * 1024 * 1024);
        var catalog = new TestCatalog(
            new IscsiTargetDefinition { Name = TargetName, Alias = "unit", Scsi = scsi },
            new IscsiTargetDefinition
            {
                Name = HiddenTargetName,
                Scsi = new RamScsiTarget(1024 * 1024),
                Access = new TargetAccessPolicy(["iqn.2026-11.org.tandem:someone-else"], [], null, null),
            },
            new IscsiTargetDefinition
            {
                Name = ChapTargetName,
                Scsi = new RamScsiTarget(1024 * 1024),
                Access = new TargetAccessPolicy([], [], new ChapCredentials("alice", "alice-secret-12"), new ChapCredentials("target", "target-secret-34")),
            });
        configure?.Invoke(catalog);
        var server = new IscsiServer(catalog, options ?? new IscsiServerOptions());
        await server.StartAsync([new IPEndPoint(IPAddress.Loopback, 0)]);
        return new ServerFixture(server, catalog, scsi);
    }

    public async Task<TestInitiator> LoginAsync(IReadOnlyDictionary<string, string>? operational = null, ulong isid = TestInitiator.DefaultIsid, bool digests = false,
        int receiveBufferSize = 0)
    {
        TestInitiator initiator = await TestInitiator.ConnectAsync(EndPoint, receiveBufferSize);
        initiator.HeaderDigest = digests;
        initiator.DataDigest = digests;
        await initiator.LoginAsync(TargetName, operational, isid: isid);
        return initiator;
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
