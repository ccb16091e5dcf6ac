using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tandem.Iscsi;
using Tandem.Node.Api;
using Tandem.Node.Config;
using Tandem.Node.Devices;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Node.Witness;
using Tandem.Replication.Links;

namespace Tandem.Node.Hosting;

/// <summary>
/// A running node: configuration store, devices, the iSCSI server on its portals and the
/// management API. <see cref="StartAsync"/> either returns a fully running node or throws after
/// undoing what it started; <see cref="StopAsync"/> shuts down cleanly (stop accepting, close
/// sessions, flush and close every device).
/// </summary>
public sealed class TandemNode : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly ILoggerFactory? _ownedLoggerFactory;
    private WebApplication? _api;
    private IscsiServer? _iscsi;
    private ReplicationListener? _replication;
    private int _stopped;

    private TandemNode(NodeOptions options, DataDirectory data, DeviceManager devices, WitnessStore witnesses, ILoggerFactory loggerFactory,
        ILoggerFactory? ownedLoggerFactory, string adminPassword, bool adminPasswordGenerated)
    {
        Witnesses = witnesses;
        Options = options;
        Data = data;
        Devices = devices;
        LoggerFactory = loggerFactory;
        _ownedLoggerFactory = ownedLoggerFactory;
        AdminPassword = adminPassword;
        AdminPasswordGenerated = adminPasswordGenerated;
        _log = loggerFactory.CreateLogger("Tandem.Node");
    }

    public NodeOptions Options { get; }
    public DataDirectory Data { get; }
    public DeviceManager Devices { get; }

    /// <summary>Witness devices this node holds: its votes for two-node HA devices of other nodes.</summary>
    public WitnessStore Witnesses { get; }
    public ILoggerFactory LoggerFactory { get; }
    public string NodeName => Devices.Settings.NodeName;
    public string AdminPassword { get; }

    /// <summary>True when this start generated the admin password (first start without --admin-password).</summary>
    public bool AdminPasswordGenerated { get; }

    /// <summary>Portals actually bound (ephemeral ports resolved).</summary>
    public IReadOnlyList<IPEndPoint> IscsiPortals => _iscsi?.BoundPortals ?? [];

    /// <summary>Management API endpoint actually bound.</summary>
    public IPEndPoint ApiEndpoint { get; private set; } = new(IPAddress.Loopback, 0);

    public IscsiServer Iscsi => _iscsi ?? throw new InvalidOperationException("The node is not running.");

    public static string Version { get; } = ReadVersion();

    /// <exception cref="TandemException">Invalid options, unreadable configuration (config_error, naming the file),
    /// or an address that cannot be bound (bind_failed).</exception>
    public static async Task<TandemNode> StartAsync(NodeOptions options, CancellationToken ct = default)
    {
        ValidateOptions(options);
        var data = new DataDirectory(options.DataDirectory);
        try
        {
            data.EnsureCreated();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TandemException(ErrorCodes.ConfigError, $"Cannot create data directory {data.Root}: {e.Message}", e);
        }

        var store = new NodeConfigStore(data.NodeConfigPath);
        var config = store.Load();
        var nodeName = options.NodeName ?? config?.NodeName ?? Names.SanitizeNodeName(Dns.GetHostName());
        if (config is null || config.NodeName != nodeName)
        {
            config = (config ?? new NodeConfig { NodeName = nodeName }) with { NodeName = nodeName };
            store.Save(config);
        }

        var (password, generated) = AdminSecret.LoadOrCreate(data.AdminSecretPath, options.AdminPassword);
        var ownedFactory = options.LoggerFactory is null ? ConsoleLogging.Create() : null;
        var loggerFactory = options.LoggerFactory ?? ownedFactory!;
        var settings = new NodeIdentitySettings(nodeName, options.IqnPrefix, options.Vendor, options.Product);
        var devices = new DeviceManager(data, store, config, settings, loggerFactory);
        var witnessLease = options.WitnessLease ?? Replication.Failover.WitnessLease.Default;
        var fileShareLog = loggerFactory.CreateLogger("Tandem.Replication.FileShareWitness");
        devices.FileShareWitnessFactory = (header, naa) => new Replication.Failover.FileShareWitness(header.Path!, naa, witnessLease, fileShareLog);
        devices.WitnessLease = witnessLease;
        devices.LinkTimings = options.EffectiveLinkTimings;
        WitnessStore witnesses;
        try
        {
            witnesses = WitnessStore.Open(data.WitnessDirectory, witnessLease,
                loggerFactory.CreateLogger("Tandem.Node.Witness"));
        }
        catch
        {
            ownedFactory?.Dispose();
            throw;
        }
        var node = new TandemNode(options, data, devices, witnesses, loggerFactory, ownedFactory, password, generated);
        try
        {
            await devices.RestoreAsync(ct);
            await node.StartServersAsync(ct);
        }
        catch
        {
            await node.StopAsync();
            throw;
        }

        node.LogStarted();
        return node;
    }

    private async Task StartServersAsync(CancellationToken ct)
    {
        try
        {
            _replication = new ReplicationListener(Options.EffectiveReplicationEndpoints, Devices.FindReplicated,
                LoggerFactory.CreateLogger("Tandem.Replication.Listener"), Devices.LinkTimings);
        }
        catch (InvalidOperationException e)
        {
            throw new TandemException(ErrorCodes.BindFailed, $"Cannot start the replication listener: {e.Message}", e);
        }
        Devices.ReplicationEndpoints = _replication.Endpoints;
        _replication.Start();

        _iscsi = new IscsiServer(Devices.Catalog, new IscsiServerOptions(), LoggerFactory);
        Devices.AttachSessions(new IscsiServerSessions(_iscsi));
        try
        {
            await _iscsi.StartAsync(Options.Portals, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new TandemException(ErrorCodes.BindFailed,
                $"Cannot start the iSCSI portal(s) {string.Join(", ", Options.Portals)}: {e.Message}", e);
        }

        _api = ManagementApi.Build(this, Options.ApiEndpoint);
        try
        {
            await _api.StartAsync(ct);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new TandemException(ErrorCodes.BindFailed,
                $"Cannot start the management API on {Options.ApiEndpoint}: {e.Message}", e);
        }

        ApiEndpoint = BoundApiEndpoint(_api) ?? Options.ApiEndpoint;
        Devices.ApiEndpoint = ApiEndpoint.ToString();
    }

    private static IPEndPoint? BoundApiEndpoint(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        foreach (var address in addresses ?? [])
        {
            if (Uri.TryCreate(address, UriKind.Absolute, out var uri) && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
                return new IPEndPoint(ip, uri.Port);
        }

        return null;
    }

    private void LogStarted()
    {
        _log.LogInformation("Tandem {Version} node {Node} started: data {DataDir}, iSCSI {Portals}, API http://{Api}, replication {Replication}",
            Version, NodeName, Data.Root, string.Join(", ", IscsiPortals), ApiEndpoint, string.Join(", ", Devices.ReplicationEndpoints));
        foreach (var warning in NodeWarnings.For(Devices))
            _log.LogWarning("{Warning}", warning);
    }

    /// <summary>Clean shutdown: stop the API, stop iSCSI (closing sessions), flush and close every device.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        _log.LogInformation("Node {Node} stopping", NodeName);
        if (_api is not null)
        {
            await Safely(() => _api.StopAsync(), "stopping the management API");
            await Safely(() => _api.DisposeAsync().AsTask(), "disposing the management API");
        }

        if (_iscsi is not null)
        {
            await Safely(_iscsi.StopAsync, "stopping the iSCSI server");
            await Safely(() => _iscsi.DisposeAsync().AsTask(), "disposing the iSCSI server");
        }

        await Safely(() => Devices.DisposeAsync().AsTask(), "closing devices");
        if (_replication is not null)
            await Safely(() => _replication.DisposeAsync().AsTask(), "stopping the replication listener");
        _log.LogInformation("Node {Node} stopped", NodeName);
        _ownedLoggerFactory?.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task Safely(Func<Task> step, string what)
    {
        try
        {
            await step();
        }
        catch (Exception e)
        {
            _log.LogError(e, "Error while {Step}", what);
        }
    }

    private static void ValidateOptions(NodeOptions options)
    {
        IscsiNames.ValidateIqnPrefix(options.IqnPrefix);
        if (options.NodeName is not null)
            Names.ValidateNodeName(options.NodeName);
        ValidateInquiryString(options.Vendor, "--vendor", NodeOptions.MaxVendorLength);
        ValidateInquiryString(options.Product, "--product", NodeOptions.MaxProductLength);
        if (options.WitnessLease is { } lease && (lease < NodeOptions.MinWitnessLease || lease > NodeOptions.MaxWitnessLease))
            throw TandemException.Invalid($"--witness-lease {lease.TotalSeconds:0.###} s is outside {NodeOptions.MinWitnessLease.TotalSeconds:0}-{NodeOptions.MaxWitnessLease.TotalSeconds:0} s.");
        if (options.LinkTimeout is { } timeout && (timeout < NodeOptions.MinLinkTimeout || timeout > NodeOptions.MaxLinkTimeout))
            throw TandemException.Invalid($"--link-timeout {timeout.TotalSeconds:0.###} s is outside {NodeOptions.MinLinkTimeout.TotalSeconds:0}-{NodeOptions.MaxLinkTimeout.TotalSeconds:0} s.");
        if (options.Portals.Count == 0)
            throw TandemException.Invalid("At least one iSCSI portal is required.");
        if (options.Portals.Distinct().Count() != options.Portals.Count)
            throw TandemException.Invalid("The same portal is given twice.");
    }

    private static void ValidateInquiryString(string value, string option, int max)
    {
        if (string.IsNullOrEmpty(value) || value.Length > max || value.Any(c => c is < ' ' or > '~'))
            throw TandemException.Invalid($"{option} '{Names.Printable(value)}' must be 1 to {max} printable ASCII characters (SPC-4 INQUIRY data).");
    }

    private static string ReadVersion()
    {
        var version = typeof(TandemNode).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }
}
