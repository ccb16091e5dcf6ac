using System.CommandLine;
using Tandem.Cli.Output;

namespace Tandem.Cli.Commands;

/// <summary>tandem session list</summary>
internal static class SessionCommands
{
    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var list = new Command("list", "List logged-in iSCSI sessions");
        ClientCommand.SetAction(list, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ListSessionsAsync(ct);
            printer.Print(result, (o, sessions) =>
            {
                if (sessions.Length == 0)
                {
                    o.WriteLine("No sessions.");
                    return;
                }

                var table = new Table("TARGET", "INITIATOR", "ISID", "TSIH", "CONNECTIONS", "DIGESTS", "SINCE");
                foreach (var s in sessions)
                {
                    var digests = (s.HeaderDigest, s.DataDigest) switch
                    {
                        (true, true) => "header+data",
                        (true, false) => "header",
                        (false, true) => "data",
                        _ => "none",
                    };
                    var connections = string.Join(",", s.Connections.Select(c => c.RemoteEndPoint));
                    table.Add(s.TargetName, s.InitiatorName, s.Isid, s.Tsih, connections, digests, s.LoggedInAt.ToString("u"));
                }

                table.Write(o);
            });
        });

        var session = new Command("session", "iSCSI sessions");
        session.Subcommands.Add(list);
        return session;
    }
}
