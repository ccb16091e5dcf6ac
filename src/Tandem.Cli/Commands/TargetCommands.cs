using System.CommandLine;
using Tandem.Cli.Output;

namespace Tandem.Cli.Commands;

/// <summary>tandem target list</summary>
internal static class TargetCommands
{
    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var list = new Command("list", "List iSCSI targets with their access control");
        ClientCommand.SetAction(list, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ListTargetsAsync(ct);
            printer.Print(result, (o, targets) =>
            {
                if (targets.Length == 0)
                {
                    o.WriteLine("No targets. Each device gets one: tandem device create --name NAME --size 10G");
                    return;
                }

                var table = new Table("TARGET", "DEVICE", "LUN", "STATE", "ACL", "CHAP", "SESSIONS", "PORTALS");
                foreach (var t in targets)
                {
                    var acl = t.Acl.Initiators.Count == 0 && t.Acl.Networks.Count == 0
                        ? "allow all"
                        : string.Join(",", t.Acl.Initiators.Concat(t.Acl.Networks));
                    var chap = !t.Chap.Enabled ? "none" : t.Chap.Mutual ? $"mutual ({t.Chap.User})" : $"one-way ({t.Chap.User})";
                    table.Add(t.Name, t.Device, t.Lun, t.State, acl, chap, t.Sessions, string.Join(",", t.Portals));
                }

                table.Write(o);
            });
        });

        var target = new Command("target", "iSCSI targets (one per device)");
        target.Subcommands.Add(list);
        return target;
    }
}
