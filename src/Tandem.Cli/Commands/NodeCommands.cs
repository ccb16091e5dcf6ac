using System.CommandLine;
using Tandem.Cli.Output;
using Tandem.Node.Api.Models;

namespace Tandem.Cli.Commands;

/// <summary>tandem node show, and its shortcut tandem status</summary>
internal static class NodeCommands
{
    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var node = new Command("node", "The node itself");
        node.Subcommands.Add(Show("show", "Show the node: name, version, portals, warnings", globals, context));
        return node;
    }

    public static Command Status(GlobalOptions globals, CliContext context) =>
        Show("status", "Show the node at a glance (same as `node show`)", globals, context);

    private static Command Show(string verb, string description, GlobalOptions globals, CliContext context)
    {
        var command = new Command(verb, description);
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.GetNodeAsync(ct);
            printer.Print(result, Write);
        });
        return command;
    }

    private static void Write(TextWriter o, NodeDto n)
    {
        KeyValues.Write(o,
        [
            ("Node", n.Name),
            ("Version", n.Version),
            ("iSCSI portals", string.Join(", ", n.Portals)),
            ("API", n.Api),
            ("IQN prefix", n.IqnPrefix),
            ("Vendor/product", $"{n.Vendor} / {n.Product}"),
            ("Data directory", n.DataDirectory),
            ("Devices", n.Devices),
            ("Sessions", n.Sessions),
        ]);
        foreach (var warning in n.Warnings)
            o.WriteLine($"warning: {warning}");
    }
}
