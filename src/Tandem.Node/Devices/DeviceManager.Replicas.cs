using System.Net;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Tandem.Node.Api.Models;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.HighAvailability;
using Tandem.Node.Validation;
using Tandem.Replication;
using Tandem.Replication.Links;
using Tandem.Replication.Replicas;
using Tandem.Storage;

namespace Tandem.Node.Devices;

/// <summary>The Replication Manager: turning devices into HA devices, and their replica sets.</summary>
public sealed partial class DeviceManager
{
    /// <summary>Replication endpoints this node listens on (set when the listener is bound).</summary>
    public IReadOnlyList<IPEndPoint> ReplicationEndpoints { get; set; } = [];

    /// <summary>Management API endpoint partners reach this node on (set when the API is bound).</summary>
    public string ApiEndpoint { get; set; } = "";

    /// <summary>Link timings of HA devices (tests shorten them).</summary>
    public LinkTimings LinkTimings { get; set; } = LinkTimings.Default;

    public ClusterCredentials? Cluster => Config.Cluster is { } c ? ClusterCredentials.Parse(c.Id, c.Secret) : null;

    /// <summary>The HA device with this NAA identifier, for the replication listener.</summary>
    public ReplicatedDevice? FindReplicated(byte[] naa) =>
        _devices.Values.FirstOrDefault(d => d.Device is ReplicatedDevice && d.Identity.Naa.AsSpan().SequenceEqual(naa))?.Device as ReplicatedDevice;

    private ReplicatedDevice Replicated(DeviceConfig config, DeviceIdentity identity, IBlockDevice local, ReplicationHeader replication)
    {
        var cluster = Cluster ?? throw new TandemException(ErrorCodes.ConfigError,
            $"Device '{config.Name}' is an HA device but node.json has no cluster credentials; restore node.json from a backup.");
        if (!string.Equals(cluster.ClusterId.ToString(), replication.ClusterId, StringComparison.OrdinalIgnoreCase))
            throw new TandemException(ErrorCodes.ConfigError,
                $"Device '{config.Name}' belongs to cluster {replication.ClusterId}, but this node is in cluster {cluster.ClusterId}.");
        string headerPath = config.HeaderPath!;
        return new ReplicatedDevice(local, new ReplicaSetOptions
        {
            Header = replication,
            Cluster = cluster,
            DeviceNaa = identity.Naa,
            Persist = (header, _) =>
            {
                DeviceHeaderFile.UpdateReplication(headerPath, header);
                return Task.CompletedTask;
            },
            Timings = LinkTimings,
            WitnessLease = WitnessLease,
            JournalPath = JournalPathFor(headerPath),
            Logger = _loggerFactory.CreateLogger("Tandem.Replication." + config.Name),
            DeviceName = config.Name,
            WitnessFactory = witness => OpenWitness(witness, identity),
        });
    }

    /// <summary>The in-flight journal of an HA device: <c>&lt;name&gt;.inflight</c> beside its header and image.</summary>
    private static string? JournalPathFor(string? headerPath) =>
        headerPath is null ? null : headerPath[..^DeviceLimits.HeaderExtension.Length] + ".inflight";

    /// <summary>A partner grew the HA device: record the size and tell initiators.</summary>
    private void OnPartnerExtended(DeviceConfig config, Scsi.LogicalUnits.ScsiLogicalUnit unit, ReplicatedDevice device)
    {
        try
        {
            DeviceHeaderFile.UpdateSize(config.HeaderPath!, device.BlockCount * device.BlockSize);
        }
        catch (TandemException e)
        {
            _log.LogError("Device {Device} was extended by a partner but its header could not be updated: {Error}", config.Name, e.Message);
        }
        unit.NotifyCapacityChanged();
        _log.LogInformation("Device {Device} extended by a partner to {SizeBytes} bytes", config.Name, device.BlockCount * device.BlockSize);
    }

    /// <summary>Creates the cluster credentials with the first replica.</summary>
    private ClusterCredentials EnsureCluster()
    {
        if (Cluster is { } existing)
            return existing;
        var created = ClusterCredentials.CreateNew();
        SaveConfig(_config with { Cluster = new ClusterConfig { Id = created.ClusterId.ToString(), Secret = created.SecretBase64 } });
        _log.LogInformation("Created cluster {Cluster}", created.ClusterId);
        return created;
    }

    /// <summary>POST /api/v1/cluster/join: a partner makes this node part of its cluster.</summary>
    public Task JoinClusterAsync(JoinClusterRequest request, CancellationToken ct = default) =>
        Exclusive(() =>
        {
            ClusterCredentials joining;
            try
            {
                joining = ClusterCredentials.Parse(request.ClusterId ?? "", request.Secret ?? "");
            }
            catch (FormatException e)
            {
                throw TandemException.Invalid(e.Message);
            }
            if (Cluster is { } current)
            {
                if (current.ClusterId != joining.ClusterId || current.SecretBase64 != joining.SecretBase64)
                    throw new TandemException(ErrorCodes.ClusterMismatch,
                        $"This node belongs to cluster {current.ClusterId}; a node can be in one cluster only.");
                return Task.FromResult(0);
            }
            SaveConfig(_config with { Cluster = new ClusterConfig { Id = joining.ClusterId.ToString(), Secret = joining.SecretBase64 } });
            _log.LogInformation("Joined cluster {Cluster}", joining.ClusterId);
            return Task.FromResult(0);
        }, ct);

    /// <summary>
    /// POST /api/v1/devices/{name}/replicas: creates the partner devices through their APIs and
    /// turns the device into an HA device. Sessions of the device are dropped once while it is
    /// reopened as HA (initiators reconnect at once).
    /// </summary>
    public Task<ManagedDevice> AddReplicasAsync(string name, AddReplicaRequest request, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            if (device.Type != DeviceTypes.Image)
                throw TandemException.Invalid($"Device '{device.Name}' is a RAM device; only image devices can be replicated.");
            if (!device.IsOnline)
                throw new TandemException(ErrorCodes.DeviceUnavailable, $"Device '{device.Name}' is offline ({device.Error}).");
            if (device.Device is ReplicatedDevice)
                throw new TandemException(ErrorCodes.AlreadyExists, $"Device '{device.Name}' is already replicated; remove its replicas first to change partners.");
            var plan = ReplicaPlan.From(request);
            var local = LocalReplicationChannels();
            var cluster = EnsureCluster();
            string generation = Generation.NewRandom();

            // Learn about every partner (and make it part of our cluster) before creating anything.
            var partners = new List<(PartnerClient Client, ReplicaNodeHeader Member)>();
            try
            {
                int nodeId = 2;
                foreach (var (endpoint, priority, optimized) in plan.Partners.Zip(plan.Priorities, plan.Optimized))
                {
                    var client = new PartnerClient(endpoint, plan.PartnerUser, plan.PartnerPassword);
                    partners.Add((client, null!));
                    var info = await client.GetNodeAsync(ct);
                    if (info.ClusterId is { } theirs && !string.Equals(theirs, cluster.ClusterId.ToString(), StringComparison.OrdinalIgnoreCase))
                        throw new TandemException(ErrorCodes.ClusterMismatch, $"Partner {endpoint} belongs to another cluster ({theirs}).");
                    if (info.ClusterId is null)
                        await client.JoinClusterAsync(new JoinClusterRequest { ClusterId = cluster.ClusterId.ToString(), Secret = cluster.SecretBase64 }, ct);
                    var member = new ReplicaNodeHeader
                    {
                        NodeId = nodeId++,
                        NodeName = info.Name,
                        Api = endpoint,
                        SyncChannels = plan.ChannelsFor(endpoint, plan.SyncChannels, info.Replication ?? []),
                        HeartbeatChannels = plan.ChannelsFor(endpoint, plan.HeartbeatChannels, []),
                        Optimized = optimized,
                        Priority = priority,
                        State = plan.Init == "synchronize" ? ReplicaStateText.NotSynchronized : ReplicaStateText.Synchronized,
                    };
                    if (member.SyncChannels.Count == 0)
                        throw TandemException.Invalid($"Partner {endpoint} advertises no replication endpoint; give --sync-channel.");
                    partners[^1] = (client, member);
                }

                var self = new ReplicaNodeHeader
                {
                    NodeId = 1,
                    NodeName = Settings.NodeName,
                    Api = ApiEndpoint,
                    SyncChannels = local,
                    HeartbeatChannels = [],
                    Optimized = plan.LocalOptimized,
                    Priority = plan.LocalPriority,
                    State = ReplicaStateText.Synchronized,
                };
                ReplicaNodeHeader[] members = [self, .. partners.Select(p => p.Member)];
                var ours = new ReplicationHeader
                {
                    ClusterId = cluster.ClusterId.ToString(),
                    LocalNodeId = 1,
                    Nodes = members,
                    State = ReplicaStateText.Synchronized,
                    Generation = generation,
                    Failover = plan.Failover,
                };

                if (plan.Init == "clear")
                    await device.Device!.UnmapAsync(0, device.Device.BlockCount, ct);

                var created = new List<PartnerClient>();
                try
                {
                    foreach (var (client, member) in partners)
                    {
                        var theirs = ours with
                        {
                            LocalNodeId = member.NodeId,
                            State = member.State,
                            // A partner that is to be synchronized starts from a generation of its own.
                            Generation = member.State == ReplicaStateText.Synchronized ? generation : Generation.NewRandom(),
                        };
                        await client.CreatePartnerDeviceAsync(new PartnerDeviceRequest
                        {
                            Name = device.Name,
                            Location = plan.PartnerLocation,
                            SizeBytes = device.SizeBytes,
                            SectorSize = device.SectorSize,
                            Provisioning = device.Provisioning.ToString().ToLowerInvariant(),
                            Naa = device.Identity.NaaHex,
                            Serial = device.Identity.Serial,
                            TargetName = device.TargetName,
                            Replication = theirs,
                        }, ct);
                        created.Add(client);
                    }
                }
                catch
                {
                    foreach (var client in created)
                    {
                        try
                        {
                            await client.RemoveDeviceAsync(device.Name, deleteImage: true, CancellationToken.None);
                        }
                        catch (TandemException e)
                        {
                            _log.LogWarning("Could not undo the partner device on {Partner}: {Error}", client.Endpoint, e.Message);
                        }
                    }
                    throw;
                }

                var reopened = await ReopenAsync(device, whileClosed: () => DeviceHeaderFile.UpdateReplication(device.HeaderPath!, ours));
                _log.LogInformation("Device {Device} is now an HA device with {Partners} ({Init})", device.Name,
                    string.Join(", ", plan.Partners), plan.Init);
                return reopened;
            }
            finally
            {
                foreach (var (client, _) in partners)
                    client.Dispose();
            }
        }, ct);

    /// <summary>POST /api/v1/replication/partner-devices: creates this node's copy of an HA device.</summary>
    public Task<ManagedDevice> CreatePartnerDeviceAsync(PartnerDeviceRequest request, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            if (request.Replication is not { } replication)
                throw TandemException.Invalid("replication is required.");
            string? problem = replication.FindProblem();
            if (problem is not null)
                throw TandemException.Invalid(problem);
            if (Cluster is not { } cluster || !string.Equals(cluster.ClusterId.ToString(), replication.ClusterId, StringComparison.OrdinalIgnoreCase))
                throw new TandemException(ErrorCodes.ClusterMismatch, "This node is not in the cluster of that HA device; join it first.");
            var identity = DeviceIdentity.Parse(request.Naa ?? "", request.Serial ?? "", "partner device request");
            if (_devices.Values.Any(d => d.Identity.Naa.AsSpan().SequenceEqual(identity.Naa)))
                throw new TandemException(ErrorCodes.AlreadyExists, $"A device with identifier {identity.NaaHex} already exists on this node.");
            return await CreateLockedAsync(new CreateDeviceRequest
            {
                Name = request.Name,
                Type = DeviceTypes.Image,
                SizeBytes = request.SizeBytes,
                SectorSize = request.SectorSize,
                Provisioning = request.Provisioning,
                Location = request.Location,
                TargetName = request.TargetName,
            }, identity, replication);
        }, ct);

    /// <summary>
    /// DELETE /api/v1/devices/{name}/replicas?partner=: stops mirroring on one partner. Every other
    /// remaining member (a three-way device) drops it as well, and the removed partner removes its
    /// device (its image file is kept).
    /// </summary>
    public Task<ManagedDevice> RemoveReplicaAsync(string name, string partner, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            var header = ReplicatedHeader(device);
            var member = header.Nodes.FirstOrDefault(n => n.NodeId != header.LocalNodeId &&
                (string.Equals(n.Api, partner.Trim(), StringComparison.OrdinalIgnoreCase) || n.NodeId.ToString() == partner.Trim()))
                ?? throw TandemException.NotFound($"Partner '{Names.Printable(partner)}' of device '{device.Name}'");
            var reopened = await DropMemberAsync(device, member);

            foreach (var other in header.Nodes.Where(n => n.NodeId != header.LocalNodeId && n.NodeId != member.NodeId))
                await TellPartnerAsync(device, other.Api, $"stop mirroring to {member.Api}", c => c.ForgetMemberAsync(device.Name, member.NodeId, ct));
            await TellPartnerAsync(device, member.Api, "drop its copy", c => c.RemoveDeviceAsync(device.Name, deleteImage: false, ct));
            _log.LogInformation("Device {Device}: replica {Partner} removed", device.Name, member.Api);
            return reopened;
        }, ct);

    /// <summary>
    /// DELETE /api/v1/replication/partner-devices/{name}/members/{nodeId}: node to node, during
    /// <c>replica remove</c> on another member: this node's copy stops mirroring to that node.
    /// </summary>
    public Task<ManagedDevice> ForgetMemberAsync(string name, int nodeId, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            var header = ReplicatedHeader(device);
            var member = header.Nodes.FirstOrDefault(n => n.NodeId == nodeId && n.NodeId != header.LocalNodeId)
                ?? throw TandemException.NotFound($"Replica {nodeId} of device '{device.Name}'");
            return await DropMemberAsync(device, member);
        }, ct);

    /// <summary>
    /// Asks a partner, as the cluster, to follow a change this node already made; a partner that
    /// cannot be reached is logged, not fatal (the change here stands).
    /// </summary>
    private async Task TellPartnerAsync(ManagedDevice device, string api, string what, Func<PartnerClient, Task> call)
    {
        using var client = new PartnerClient(api, PartnerClient.ClusterUser, Cluster!.SecretBase64);
        try
        {
            await call(client);
        }
        catch (TandemException e)
        {
            _log.LogWarning("Device {Device}: partner {Partner} could not be told to {What}: {Error}", device.Name, api, what, e.Message);
        }
    }

    private static ReplicationHeader ReplicatedHeader(ManagedDevice device) =>
        (device.Device as ReplicatedDevice)?.Header
        ?? throw new TandemException(ErrorCodes.NotFound, $"Device '{device.Name}' has no replicas.");

    /// <summary>Reopens the device without <paramref name="member"/> in its replica set (a plain device when one node is left).</summary>
    private async Task<ManagedDevice> DropMemberAsync(ManagedDevice device, ReplicaNodeHeader member)
    {
        var replicated = (ReplicatedDevice)device.Device!;
        var reopened = await ReopenAsync(device, whileClosed: () =>
        {
            // The header as the closed device last saved it (closing records its final state).
            var final = replicated.Header;
            var remaining = final.Nodes.Where(n => n.NodeId != member.NodeId).ToArray();
            DeviceHeaderFile.UpdateReplication(device.HeaderPath!, remaining.Length < 2 ? null : final with { Nodes = remaining });
        });
        _log.LogInformation("Device {Device}: no longer mirrored to replica {Member} ({Api})", device.Name, member.NodeId, member.Api);
        return reopened;
    }

    /// <summary>
    /// Closes a device and opens it again from its header (after its replication changed);
    /// <paramref name="whileClosed"/> edits the header when nothing else can write it.
    /// </summary>
    private async Task<ManagedDevice> ReopenAsync(ManagedDevice device, Action? whileClosed = null)
    {
        await UnpublishAsync(device);
        await CloseDeviceAsync(device);
        ExceptionDispatchInfo? failure = null;
        try
        {
            whileClosed?.Invoke();
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e); // the device still comes back, as it was
        }
        var reopened = await OpenAsync(device.Config);
        _devices = _devices.SetItem(reopened.Name, reopened);
        if (reopened.Target is not null)
            Catalog.Add(reopened.Target);
        failure?.Throw();
        return reopened;
    }

    public ReplicatedDevice GetReplicated(string name) =>
        GetDevice(name).Device as ReplicatedDevice
        ?? throw new TandemException(ErrorCodes.NotFound, $"Device '{Names.Printable(name)}' is not replicated.");

    /// <summary>This node's replication endpoints as partners should dial them.</summary>
    private IReadOnlyList<string> LocalReplicationChannels()
    {
        var endpoints = ReplicationEndpoints;
        if (endpoints.Count == 0)
            throw new TandemException(ErrorCodes.ReplicaState, "This node has no replication endpoint.");
        if (endpoints.Any(e => e.Address.Equals(IPAddress.Any) || e.Address.Equals(IPAddress.IPv6Any)))
            throw TandemException.Invalid("This node listens for replication on every address; start it with --replication ADDR:PORT naming the address partners should dial.");
        return endpoints.Select(e => e.ToString()).ToArray();
    }
}
