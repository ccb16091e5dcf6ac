using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Tandem.Node.Config;
using Tandem.Node.Devices;
using Tandem.Node.Errors;
using Tandem.Node.Hosting;
using Tandem.Node.Validation;

namespace Tandem.Cli.Commands;

/// <summary>
/// tandem serve: run a node in the foreground until SIGINT/SIGTERM, then shut down cleanly.
/// tandem demo: the same, after making sure a 1 GiB thin demo device exists, with instructions to reach it.
/// </summary>
internal static class ServeCommand
{
    public const string DemoDeviceName = "demo";
    public const long DemoDeviceSize = 1L << 30;

    private sealed class NodeOptionSet
    {
        public Option<string> DataDir { get; } = new("--data-dir")
        {
            Description = "Data directory (configuration, secrets, default image location)",
            DefaultValueFactory = _ => DataDirectory.DefaultPath,
        };

        public Option<string[]> Portals { get; } = new("--portal")
        {
            Description = $"iSCSI portal ADDR:PORT; repeatable, one per network (default 127.0.0.1:{NodeOptions.DefaultIscsiPort})",
            AllowMultipleArgumentsPerToken = false,
        };

        public Option<string> Api { get; } = new("--api")
        {
            Description = "Management API ADDR:PORT",
            DefaultValueFactory = _ => $"127.0.0.1:{NodeOptions.DefaultApiPort}",
        };

        public Option<string[]> Replication { get; } = new("--replication")
        {
            Description = "Replication (sync and heartbeat) endpoint ADDR:PORT partners dial; repeatable (default: each portal's address, port 3262)",
            AllowMultipleArgumentsPerToken = false,
        };

        public Option<string?> NodeName { get; } = new("--node-name") { Description = "Node name used in target IQNs (default: host name)" };
        public Option<string?> AdminPassword { get; } = new("--admin-password") { Description = "Admin API password (default: stored one, or generated on first start)" };

        public Option<string> IqnPrefix { get; } = new("--iqn-prefix")
        {
            Description = "Prefix of generated target names",
            DefaultValueFactory = _ => NodeOptions.DefaultIqnPrefix,
        };

        public Option<string> Vendor { get; } = new("--vendor")
        {
            Description = "SCSI vendor identification (8 characters max)",
            DefaultValueFactory = _ => NodeOptions.DefaultVendor,
        };

        public Option<string> Product { get; } = new("--product")
        {
            Description = "SCSI product identification (16 characters max)",
            DefaultValueFactory = _ => NodeOptions.DefaultProduct,
        };

        public Option<string> LogFormat { get; } = new("--log-format")
        {
            Description = "Log lines as text or json",
            DefaultValueFactory = _ => "text",
        };

        public Option<double?> LinkTimeout { get; } = new("--link-timeout")
        {
            Description = "Seconds of silence after which a replication link (sync or heartbeat) is down; every failover timer follows it (default 5, 1-60)",
            HelpName = "SECONDS",
        };

        public Option<double?> WitnessLease { get; } = new("--witness-lease")
        {
            Description = "Seconds a vote of this node's witness devices holds (default 8, 1-120); data nodes expect the same value",
            HelpName = "SECONDS",
        };

        public NodeOptionSet() => LogFormat.AcceptOnlyFromAmong("text", "json");

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { DataDir, Portals, Api, Replication, NodeName, AdminPassword, IqnPrefix, Vendor, Product, LinkTimeout, WitnessLease, LogFormat })
                command.Options.Add(option);
        }

        public NodeOptions Read(ParseResult parse, CliContext context)
        {
            var portals = parse.GetValue(Portals) is { Length: > 0 } given
                ? given.Select(p => EndpointParser.ParseListen(p, "--portal")).ToArray()
                : [new IPEndPoint(IPAddress.Loopback, NodeOptions.DefaultIscsiPort)];
            return new NodeOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(DataDir)!, context.WorkingDirectory),
                Portals = portals,
                ApiEndpoint = EndpointParser.ParseListen(parse.GetValue(Api)!, "--api"),
                ReplicationEndpoints = parse.GetValue(Replication) is { Length: > 0 } replication
                    ? replication.Select(r => EndpointParser.ParseListen(r, "--replication")).ToArray()
                    : null,
                NodeName = parse.GetValue(NodeName),
                AdminPassword = parse.GetValue(AdminPassword),
                IqnPrefix = parse.GetValue(IqnPrefix)!,
                Vendor = parse.GetValue(Vendor)!,
                Product = parse.GetValue(Product)!,
                LinkTimeout = Seconds(parse.GetValue(LinkTimeout), "--link-timeout"),
                WitnessLease = Seconds(parse.GetValue(WitnessLease), "--witness-lease"),
                LoggerFactory = ConsoleLogging.Create(json: parse.GetValue(LogFormat) == "json"),
            };
        }
    }

    private static TimeSpan? Seconds(double? value, string option) => value switch
    {
        null => null,
        double s when double.IsFinite(s) && s > 0 && s <= 3600 => TimeSpan.FromSeconds(s),
        _ => throw TandemException.Invalid($"{option} {value} is not a number of seconds."),
    };

    public static Command Serve(CliContext context, CancellationToken stopToken) =>
        Build("serve", "Run a Tandem node in the foreground (iSCSI + management API) until SIGINT/SIGTERM", demo: false, context, stopToken);

    public static Command Demo(CliContext context, CancellationToken stopToken) =>
        Build("demo", "Run a node with a 1 GiB thin device named 'demo' and print how to connect to it", demo: true, context, stopToken);

    private static Command Build(string verb, string description, bool demo, CliContext context, CancellationToken stopToken)
    {
        var options = new NodeOptionSet();
        var command = new Command(verb, description);
        options.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            NodeOptions nodeOptions;
            try
            {
                nodeOptions = options.Read(parse, context);
            }
            catch (TandemException e)
            {
                await context.Error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Usage;
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopToken, ct);
            return await RunAsync(nodeOptions, demo, context, linked.Token);
        });
        return command;
    }

    private static async Task<int> RunAsync(NodeOptions options, bool demo, CliContext context, CancellationToken externalStop)
    {
        using var loggerFactory = options.LoggerFactory;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(externalStop);
        using var sigint = RegisterStop(PosixSignal.SIGINT, stop);
        using var sigterm = RegisterStop(PosixSignal.SIGTERM, stop);

        TandemNode node;
        try
        {
            node = await TandemNode.StartAsync(options, stop.Token);
        }
        catch (TandemException e)
        {
            await context.Error.WriteLineAsync($"error: {e.Message}");
            return e.Code is ErrorCodes.InvalidArgument or ErrorCodes.InvalidName ? ExitCodes.Usage : ExitCodes.Failure;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Failure;
        }

        try
        {
            await PrintBannerAsync(node, context);
            if (demo)
                await PrintDemoAsync(node, await EnsureDemoDeviceAsync(node, stop.Token), context);
            await context.Out.FlushAsync(CancellationToken.None);

            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            return ExitCodes.Success;
        }
        catch (TandemException e)
        {
            await context.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Failure;
        }
        finally
        {
            await node.StopAsync();
        }
    }

    /// <summary>
    /// First signal: cancel the default (immediate exit) and shut down cleanly, flushing devices.
    /// A second signal while that runs terminates at once, for an operator who insists.
    /// </summary>
    private static PosixSignalRegistration? RegisterStop(PosixSignal signal, CancellationTokenSource stop)
    {
        try
        {
            return PosixSignalRegistration.Create(signal, context =>
            {
                if (stop.IsCancellationRequested)
                    return;
                context.Cancel = true;
                stop.Cancel();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    private static async Task PrintBannerAsync(TandemNode node, CliContext context)
    {
        var o = context.Out;
        await o.WriteLineAsync($"Tandem {TandemNode.Version} node '{node.NodeName}' is running.");
        await o.WriteLineAsync($"  Data directory: {node.Data.Root}");
        await o.WriteLineAsync($"  iSCSI portals:  {string.Join(", ", node.IscsiPortals)}");
        await o.WriteLineAsync($"  API:            http://{node.ApiEndpoint}");
        await o.WriteLineAsync(node.AdminPasswordGenerated
            ? $"  Admin user:     admin; a new password was generated into {node.Data.AdminSecretPath}"
            : $"  Admin user:     admin; password in {node.Data.AdminSecretPath}");
        await o.WriteLineAsync($"                  read it with: cat {node.Data.AdminSecretPath}");
        await o.WriteLineAsync("  Stop with Ctrl+C (or SIGTERM): sessions are closed and devices flushed.");
    }

    private static async Task<ManagedDevice> EnsureDemoDeviceAsync(TandemNode node, CancellationToken ct)
    {
        var existing = node.Devices.Devices.FirstOrDefault(d => string.Equals(d.Name, DemoDeviceName, StringComparison.OrdinalIgnoreCase));
        if (existing is not null)
            return existing;
        return await node.Devices.CreateAsync(new CreateDeviceRequest
        {
            Name = DemoDeviceName,
            Type = DeviceTypes.Image,
            SizeBytes = DemoDeviceSize,
            Provisioning = "thin",
        }, ct);
    }

    private static async Task PrintDemoAsync(TandemNode node, ManagedDevice device, CliContext context)
    {
        var portal = ReachableAddress(node.IscsiPortals[0]);
        var url = $"iscsi://{portal}/{device.TargetName}/0";
        var o = context.Out;
        await o.WriteLineAsync();
        await o.WriteLineAsync($"Demo device '{device.Name}': {SizeParser.Format(device.SizeBytes)} {device.Provisioning.ToString().ToLowerInvariant()} {device.Type}"
                               + (device.ImagePath is null ? "" : $" at {device.ImagePath}"));
        await o.WriteLineAsync($"  Target:      {device.TargetName} (LUN 0)");
        await o.WriteLineAsync($"  iSCSI URL:   {url}");
        await o.WriteLineAsync($"  libiscsi:    iscsi-ls -s iscsi://{portal}");
        await o.WriteLineAsync($"               iscsi-inq {url}");
        await o.WriteLineAsync($"  open-iscsi:  iscsiadm -m discovery -t sendtargets -p {portal}");
        await o.WriteLineAsync($"               iscsiadm -m node -T {device.TargetName} -p {portal} --login");
        await o.WriteLineAsync($"  QEMU:        qemu-img info {url}");
        await o.WriteLineAsync($"  API:         http://{ReachableAddress(node.ApiEndpoint)} (user admin, password in {node.Data.AdminSecretPath})");
        await o.WriteLineAsync($"  CLI:         {HowToRunTandem()} device list --server {ReachableAddress(node.ApiEndpoint)}");
        if (device.Error is not null)
            await o.WriteLineAsync($"  warning: the demo device is offline: {device.Error}");
    }

    /// <summary>
    /// The command line that runs this same CLI: `tandem` when installed as an apphost, or
    /// `dotnet …/tandem.dll` when started through the dotnet host (as scripts/demo.sh does).
    /// </summary>
    private static string HowToRunTandem()
    {
        var host = Environment.ProcessPath;
        if (host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet")
            return $"dotnet {typeof(ServeCommand).Assembly.Location}";
        return host ?? "tandem";
    }

    /// <summary>A wildcard listen address is not something to connect to; show loopback instead.</summary>
    private static string ReachableAddress(IPEndPoint endPoint)
    {
        var address = endPoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
            : endPoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
            : endPoint.Address;
        return new IPEndPoint(address, endPoint.Port).ToString();
    }
}
