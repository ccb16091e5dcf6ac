using System.CommandLine;
using Tandem.Node.Api.Models;

namespace Tandem.Cli.Commands;

/// <summary>tandem acl set | clear</summary>
internal static class AclCommands
{
    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var acl = new Command("acl", "Which initiators and networks may log in to a target");
        acl.Subcommands.Add(Set(globals, context));
        acl.Subcommands.Add(Clear(globals, context));
        return acl;
    }

    private static Option<string> Target() => new("--target") { Description = "Target IQN (or its device name)", Required = true };

    private static Command Set(GlobalOptions globals, CliContext context)
    {
        var target = Target();
        var initiators = new Option<string[]>("--initiator")
        {
            Description = "Allowed initiator name (iqn./eui./naa.); repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var networks = new Option<string[]>("--network")
        {
            Description = "Allowed source network in CIDR notation, e.g. 10.0.0.0/24; repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("set", "Replace a target's allow-lists (no --initiator and no --network: allow all)") { target, initiators, networks };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var request = new AclRequest
            {
                Initiators = parse.GetValue(initiators) ?? [],
                Networks = parse.GetValue(networks) ?? [],
            };
            var result = await api.SetAclAsync(parse.GetValue(target)!, request, ct);
            printer.Print(result, (o, t) => o.WriteLine(t.Acl.Initiators.Count == 0 && t.Acl.Networks.Count == 0
                ? $"{t.Name} now allows every initiator."
                : $"{t.Name} now allows initiators [{string.Join(", ", t.Acl.Initiators)}] and networks [{string.Join(", ", t.Acl.Networks)}]."));
        });
        return command;
    }

    private static Command Clear(GlobalOptions globals, CliContext context)
    {
        var target = Target();
        var command = new Command("clear", "Allow every initiator to log in to a target") { target };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ClearAclAsync(parse.GetValue(target)!, ct);
            printer.Print(result, (o, t) => o.WriteLine($"{t.Name} now allows every initiator."));
        });
        return command;
    }
}
