using System.CommandLine;
using Tandem.Cli.Output;
using Tandem.Node.Api.Models;

namespace Tandem.Cli.Commands;

/// <summary>
/// tandem witness add | remove (on a data node of a two-node, node-majority HA device) and
/// tandem witness list (on a witness node).
/// </summary>
internal static class WitnessCommands
{
    public const string WitnessPasswordVariable = "TANDEM_WITNESS_PASSWORD";

    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var witness = new Command("witness", "The third vote of a two-node HA device under node majority: a witness node or a shared folder");
        witness.Subcommands.Add(Add(globals, context));
        witness.Subcommands.Add(Remove(globals, context));
        witness.Subcommands.Add(List(globals, context));
        return witness;
    }

    private static Argument<string> Device() => new("device") { Description = "HA device name" };

    private static Command Add(GlobalOptions globals, CliContext context)
    {
        var device = Device();
        var address = new Option<string?>("--witness")
        {
            Description = "Management API of the witness node (a Tandem node that is neither data node; port 3261 by default on nodes)",
            HelpName = "HOST:PORT",
        };
        address.Validators.Add(result =>
        {
            if (!EndpointText.TryParse(result.GetValueOrDefault<string?>() ?? "", portRequired: true, out _, out var error))
                result.AddError($"--witness {error}.");
        });
        var path = new Option<string?>("--witness-path")
        {
            Description = "Shared folder (SMB/NFS) mounted at the same absolute path on both data nodes, for the lease file",
            HelpName = "DIR",
        };
        path.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>() ?? "";
            if (!Path.IsPathFullyQualified(value))
                result.AddError($"--witness-path '{value}' is not an absolute path (it names the folder on the data nodes).");
        });
        var user = new Option<string?>("--witness-user") { Description = "Administrator of the witness node (default admin)", HelpName = "USER" };
        var password = new Option<string?>("--witness-password")
        {
            Description = $"Password of that administrator, used once to join the witness node to the cluster (env {WitnessPasswordVariable})",
            HelpName = "PASS",
        };

        var command = new Command("add", "Give a two-node, node-majority HA device its witness (on both data nodes)") { device, address, path, user, password };
        command.Validators.Add(result =>
        {
            bool hasAddress = result.GetResult(address) is not null, hasPath = result.GetResult(path) is not null;
            if (hasAddress == hasPath)
                result.AddError("Give exactly one of --witness HOST:PORT (a witness node) or --witness-path DIR (a shared folder).");
            else if (hasPath && (result.GetResult(user) is not null || result.GetResult(password) is not null))
                result.AddError("--witness-user and --witness-password are for a witness node (--witness), not a shared folder.");
        });
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var witnessAddress = parse.GetValue(address)?.Trim();
            var request = new AddWitnessRequest
            {
                Address = witnessAddress,
                Path = parse.GetValue(path),
                WitnessUser = parse.GetValue(user),
                WitnessPassword = witnessAddress is null ? null : parse.GetValue(password) ?? context.GetEnvironmentVariable(WitnessPasswordVariable),
            };
            var result = await api.AddWitnessAsync(parse.GetValue(device)!, request, ct);
            printer.Print(result, (o, set) =>
            {
                o.WriteLine($"Device {set.Device} now has a {set.Failover?.Witness ?? (witnessAddress is null ? $"file-share witness {request.Path}" : $"witness node {witnessAddress}")}.");
                WriteFailover(o, set);
            });
        });
        return command;
    }

    private static Command Remove(GlobalOptions globals, CliContext context)
    {
        var device = Device();
        var command = new Command("remove", "Stop using the witness of an HA device (on both data nodes)") { device };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.RemoveWitnessAsync(parse.GetValue(device)!, ct);
            printer.Print(result, (o, set) =>
            {
                o.WriteLine($"Device {set.Device} has no witness any more.");
                WriteFailover(o, set);
            });
        });
        return command;
    }

    private static Command List(GlobalOptions globals, CliContext context)
    {
        var command = new Command("list", "On a witness node: the witness devices it holds, which replica holds each vote, and its generation");
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ListWitnessDevicesAsync(ct);
            printer.Print(result, (o, devices) =>
            {
                if (devices.Length == 0)
                {
                    o.WriteLine("No witness devices. A data node adds one with: tandem witness add DEVICE --witness THIS-NODE:3261");
                    return;
                }
                var table = new Table("DEVICE", "NAA", "HOLDER", "GENERATION", "LAST-HOLDER");
                foreach (var d in devices)
                    table.Add(d.Device, d.Naa, d.Holder, d.Generation, d.LastHolder);
                table.Write(o);
            });
        });
        return command;
    }

    private static void WriteFailover(TextWriter o, ReplicaSetDto set) =>
        o.WriteLine($"Failover: {set.Failover?.Strategy ?? "none"}; witness: {set.Failover?.Witness ?? "none"}");
}
