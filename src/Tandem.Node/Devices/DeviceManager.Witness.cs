using System.Net;
using Microsoft.Extensions.Logging;
using Tandem.Node.Api.Models;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.HighAvailability;
using Tandem.Node.Hosting;
using Tandem.Node.Validation;
using Tandem.Replication.Failover;
using Tandem.Replication.Replicas;
using Tandem.Storage;

namespace Tandem.Node.Devices;

/// <summary>
/// The witness of a two-node, node-majority HA device: <c>witness add</c> / <c>witness remove</c>
/// here and on the partner. Both data nodes always know the same witness: a change that cannot
/// reach the partner is undone here.
/// </summary>
public sealed partial class DeviceManager
{
    /// <summary>
    /// Limit on each call to the partner or the witness node: long enough for a busy node, short
    /// enough that two administrators whose calls cross (each node waiting for the other's gate)
    /// get an error instead of waiting for an hour.
    /// </summary>
    private static readonly TimeSpan WitnessCallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Opens a file-share witness (header, device NAA); null: this node cannot use them.</summary>
    public Func<WitnessHeader, string, IWitness>? FileShareWitnessFactory { get; set; }

    /// <summary>How long a witness vote holds (what this node's witness store grants, and what its devices expect).</summary>
    public TimeSpan WitnessLease { get; set; } = Replication.Failover.WitnessLease.Default;

    /// <summary>Records a witness in a running HA device (tests replace it to watch the calls).</summary>
    internal Func<ReplicatedDevice, WitnessHeader?, Task> ApplyWitness { get; set; } =
        static (device, witness) => device.SetWitnessAsync(witness);

    /// <summary>For <see cref="ReplicaSetOptions.WitnessFactory"/>: the witness a device's header names.</summary>
    private IWitness OpenWitness(WitnessHeader witness, DeviceIdentity identity) =>
        WitnessFactory.Create(witness, identity.NaaHex, Cluster?.SecretBase64 ?? "", FileShareWitnessFactory);

    /// <summary>
    /// POST /api/v1/devices/{name}/witness: checks the witness (a witness node is joined to the
    /// cluster and gets the witness device; a folder is probed), records it here, then on the partner.
    /// </summary>
    public Task<ManagedDevice> AddWitnessAsync(string name, AddWitnessRequest request, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            var replicated = WitnessableDevice(device);
            var header = replicated.Header;
            var witness = ParseWitness(request, header);
            if (header.Witness is { } current && current != witness)
                throw new TandemException(ErrorCodes.AlreadyExists,
                    $"Device '{device.Name}' already has a {current}; remove it first (tandem witness remove {device.Name}).");
            if (witness.Path is { } path)
            {
                WitnessFolder.Check(path, Settings.NodeName);
                // The device's folder on the share: the witness never creates it itself, so that an
                // unmounted share (an empty mount point) cannot become a private witness.
                FileShareWitness.Provision(path, device.Identity.NaaHex);
            }
            else
            {
                await PrepareWitnessNodeAsync(device, header, witness.Address!, request, ct);
            }

            string partner = PartnerOf(header).Api;
            bool appliedHere = false;
            try
            {
                await ApplyAsync(replicated, witness);
                appliedHere = true;
                await CallPartnerAsync(partner, (c, t) => c.SetPartnerWitnessAsync(device.Name, witness, t), ct);
            }
            catch (Exception e)
            {
                await UndoWitnessAsync(device, replicated, header.Witness, appliedHere, partner,
                    createdOn: header.Witness is null ? witness.Address : null);
                if (e is TandemException { Code: ErrorCodes.PartnerError } t)
                    throw new TandemException(t.Code, $"{t.Message.TrimEnd('.')}; the witness was not added (both data nodes must know it).", t);
                throw;
            }
            _log.LogInformation("Device {Device}: {Witness} added", device.Name, witness);
            return device;
        }, ct);

    /// <summary>DELETE /api/v1/devices/{name}/witness: both data nodes stop using the witness; a witness node drops its witness device.</summary>
    public Task<ManagedDevice> RemoveWitnessAsync(string name, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            var replicated = GetReplicated(name);
            var current = replicated.Header.Witness ?? throw TandemException.NotFound($"A witness of device '{device.Name}'");
            string partner = PartnerOf(replicated.Header).Api;
            await ApplyAsync(replicated, null);
            try
            {
                await CallPartnerAsync(partner, (c, t) => c.SetPartnerWitnessAsync(device.Name, null, t), ct);
            }
            catch (TandemException e)
            {
                await Safely(device, "restore its witness", () => ApplyAsync(replicated, current));
                throw new TandemException(e.Code, $"{e.Message.TrimEnd('.')}; the witness was kept (both data nodes must know the same one).", e);
            }
            if (current.Address is { } address)
                await Safely(device, $"remove its witness device on {address}",
                    () => CallWitnessNodeAsync(address, (c, t) => c.RemoveWitnessDeviceAsync(device.Identity.NaaHex, t), ct));
            _log.LogInformation("Device {Device}: {Witness} removed", device.Name, current);
            return device;
        }, ct);

    /// <summary>
    /// PUT (witness) / DELETE (null) /api/v1/replication/partner-devices/{name}/witness: node to
    /// node, during <c>witness add</c> or <c>remove</c> on the partner. Forgetting a witness this
    /// node does not have is not an error (the partner may be undoing a half-done add).
    /// </summary>
    public Task<ManagedDevice> SetPartnerWitnessAsync(string name, WitnessHeader? witness, CancellationToken ct = default) =>
        Exclusive(async () =>
        {
            var device = GetDevice(name);
            if (witness is null)
            {
                var replicated = GetReplicated(name);
                if (replicated.Header.Witness is not null)
                    await ApplyAsync(replicated, null);
                return device;
            }
            var witnessable = WitnessableDevice(device);
            if (witness.FindProblem() is { } problem)
                throw TandemException.Invalid("witness: " + problem);
            if (witness.Address is { } address && FindOwnNode(witnessable.Header, address) is { } own)
                throw TandemException.Invalid($"witness {address} is replica {own.NodeId} of device '{device.Name}'; a witness must be a third node.");
            if (witness.Path is { } path)
                WitnessFolder.Check(path, Settings.NodeName);
            await ApplyAsync(witnessable, witness);
            return device;
        }, ct);

    /// <summary>The HA device, if it can have a witness: two data nodes under node majority.</summary>
    private static ReplicatedDevice WitnessableDevice(ManagedDevice device)
    {
        var replicated = device.Device as ReplicatedDevice
            ?? throw new TandemException(ErrorCodes.ReplicaState,
                $"Device '{device.Name}' is not an HA device; a witness is the third vote of a two-node HA device.");
        var header = replicated.Header;
        if (header.FailoverStrategy != ReplicationHeader.NodeMajorityFailover)
            throw new TandemException(ErrorCodes.ReplicaState,
                $"Device '{device.Name}' uses {header.FailoverStrategy} failover; only node-majority devices have a witness (the strategy is chosen at replica add).");
        if (header.Nodes.Count != 2)
            throw new TandemException(ErrorCodes.ReplicaState,
                $"Device '{device.Name}' has {header.Nodes.Count} data nodes; three data nodes need no witness (two of three are a majority).");
        return replicated;
    }

    private static WitnessHeader ParseWitness(AddWitnessRequest request, ReplicationHeader header)
    {
        bool hasAddress = !string.IsNullOrWhiteSpace(request.Address);
        if (hasAddress == !string.IsNullOrWhiteSpace(request.Path))
            throw TandemException.Invalid("Give exactly one of address (a witness node, HOST:PORT) or path (a shared folder mounted on both data nodes).");
        if (!hasAddress)
        {
            if (request.WitnessUser is not null || request.WitnessPassword is not null)
                throw TandemException.Invalid("witnessUser and witnessPassword are for a witness node (address), not a shared folder.");
            var path = request.Path!;
            if (!Path.IsPathFullyQualified(path))
                throw TandemException.Invalid($"path '{Names.Printable(path)}' is not an absolute path.");
            return new WitnessHeader { Path = path };
        }

        var (host, port) = EndpointParser.ParseHostPort(request.Address!, "address");
        string address = host.Contains(':') ? $"[{host}]:{port}" : $"{host}:{port}";
        if (FindOwnNode(header, address) is { } own)
            throw TandemException.Invalid($"address {address} is replica {own.NodeId} of this device; a witness must be a third node.");
        return new WitnessHeader { Address = address };
    }

    /// <summary>The device's node whose management API is <paramref name="api"/> (addresses compared as addresses, names without case).</summary>
    private static ReplicaNodeHeader? FindOwnNode(ReplicationHeader header, string api) =>
        header.Nodes.FirstOrDefault(n => SameEndpoint(n.Api, api));

    private static bool SameEndpoint(string a, string b)
    {
        try
        {
            var (hostA, portA) = EndpointParser.ParseHostPort(a, "api");
            var (hostB, portB) = EndpointParser.ParseHostPort(b, "api");
            if (portA != portB)
                return false;
            return IPAddress.TryParse(hostA, out var ipA) && IPAddress.TryParse(hostB, out var ipB)
                ? ipA.Equals(ipB)
                : string.Equals(hostA, hostB, StringComparison.OrdinalIgnoreCase);
        }
        catch (TandemException)
        {
            return string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);
        }
    }

    private static ReplicaNodeHeader PartnerOf(ReplicationHeader header) => header.Nodes.Single(n => n.NodeId != header.LocalNodeId);

    /// <summary>
    /// Makes the witness node ready: reachable, in this cluster (joined with the administrator's
    /// credentials if it is in none), not one of the device's nodes, holding the witness device.
    /// </summary>
    private async Task PrepareWitnessNodeAsync(ManagedDevice device, ReplicationHeader header, string address, AddWitnessRequest request,
        CancellationToken ct)
    {
        var cluster = Cluster ?? throw new TandemException(ErrorCodes.ConfigError, "This node has an HA device but no cluster credentials.");
        using var client = request.WitnessPassword is { } password
            ? new PartnerClient(address, request.WitnessUser ?? AdminSecret.UserName, password) { Role = "Witness node" }
            : new PartnerClient(address, PartnerClient.ClusterUser, cluster.SecretBase64) { Role = "Witness node" };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(WitnessCallTimeout);
        NodeDto info;
        try
        {
            info = await client.GetNodeAsync(timeout.Token);
        }
        catch (TandemException e) when (request.WitnessPassword is null)
        {
            throw new TandemException(e.Code,
                $"{e.Message.TrimEnd('.')}. A witness node in no cluster yet joins this one with its administrator's credentials: give witnessPassword.", e);
        }
        if (FindOwnNode(header, info.Api) is { } own)
            throw TandemException.Invalid($"Witness node {address} is replica {own.NodeId} of device '{device.Name}'; a witness must be a third node.");
        if (info.ClusterId is { } theirs && !string.Equals(theirs, cluster.ClusterId.ToString(), StringComparison.OrdinalIgnoreCase))
            throw new TandemException(ErrorCodes.ClusterMismatch, $"Witness node {address} belongs to another cluster ({theirs}).");
        if (info.ClusterId is null)
            await client.JoinClusterAsync(new JoinClusterRequest { ClusterId = cluster.ClusterId.ToString(), Secret = cluster.SecretBase64 }, timeout.Token);
        await client.CreateWitnessDeviceAsync(new CreateWitnessDeviceRequest
        {
            Naa = device.Identity.NaaHex,
            Device = device.Name,
            ClusterId = cluster.ClusterId.ToString(),
        }, timeout.Token);
    }

    /// <summary>Takes back a half-done <c>witness add</c>, step by step, each best effort.</summary>
    /// <param name="createdOn">The witness node whose witness device this add created (to remove it), or null.</param>
    private async Task UndoWitnessAsync(ManagedDevice device, ReplicatedDevice replicated, WitnessHeader? previous, bool appliedHere,
        string partner, string? createdOn)
    {
        if (appliedHere)
        {
            await Safely(device, "restore its witness", () => ApplyAsync(replicated, previous));
            // The partner may have applied the change before its answer was lost.
            await Safely(device, $"restore its witness on partner {partner}",
                () => CallPartnerAsync(partner, (c, t) => c.SetPartnerWitnessAsync(device.Name, previous, t), CancellationToken.None));
        }
        if (createdOn is not null)
            await Safely(device, $"remove its witness device on {createdOn}",
                () => CallWitnessNodeAsync(createdOn, (c, t) => c.RemoveWitnessDeviceAsync(device.Identity.NaaHex, t), CancellationToken.None));
    }

    private async Task ApplyAsync(ReplicatedDevice device, WitnessHeader? witness)
    {
        try
        {
            await ApplyWitness(device, witness);
        }
        catch (InvalidOperationException e)
        {
            throw new TandemException(ErrorCodes.ReplicaState, e.Message, e);
        }
    }

    private Task CallPartnerAsync(string api, Func<PartnerClient, CancellationToken, Task> call, CancellationToken ct) =>
        CallAsync(new PartnerClient(api, PartnerClient.ClusterUser, Cluster!.SecretBase64), call, ct);

    private Task CallWitnessNodeAsync(string address, Func<PartnerClient, CancellationToken, Task> call, CancellationToken ct) =>
        CallAsync(new PartnerClient(address, PartnerClient.ClusterUser, Cluster!.SecretBase64) { Role = "Witness node" }, call, ct);

    private static async Task CallAsync(PartnerClient client, Func<PartnerClient, CancellationToken, Task> call, CancellationToken ct)
    {
        using (client)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(WitnessCallTimeout);
            await call(client, timeout.Token);
        }
    }

    private async Task Safely(ManagedDevice device, string what, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e) // an undo step must never hide why the change failed
        {
            _log.LogWarning("Device {Device}: could not {What}: {Error}", device.Name, what, e.Message);
        }
    }
}
