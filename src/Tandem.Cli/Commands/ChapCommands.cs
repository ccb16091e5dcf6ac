using System.CommandLine;
using Tandem.Node.Api.Models;

namespace Tandem.Cli.Commands;

/// <summary>tandem chap set | clear | discovery set | discovery clear</summary>
internal static class ChapCommands
{
    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var chap = new Command("chap", "CHAP authentication of targets and of discovery");
        chap.Subcommands.Add(Set(globals, context));
        chap.Subcommands.Add(Clear(globals, context));
        chap.Subcommands.Add(Discovery(globals, context));
        return chap;
    }

    private static Option<string> Target() => new("--target") { Description = "Target IQN (or its device name)", Required = true };
    /// <summary>
    /// CHAP user: "--user" as administrators expect. It shadows the global --user (API user) on
    /// these commands only; set the API user with TANDEM_USER there.
    /// </summary>
    private static Option<string> User(string description) => new("--user", "--chap-user") { Description = description, Required = true };
    private static Option<string> Secret() => new("--secret") { Description = "CHAP secret (12 to 255 bytes)", Required = true };

    private static Command Set(GlobalOptions globals, CliContext context)
    {
        var target = Target();
        var user = User("CHAP user name the initiator logs in with");
        var secret = Secret();
        var mutualUser = new Option<string?>("--mutual-user") { Description = "Mutual CHAP: user name the target answers with" };
        var mutualSecret = new Option<string?>("--mutual-secret") { Description = "Mutual CHAP: secret the target answers with (must differ from --secret)" };
        var command = new Command("set", "Require CHAP (one-way, or mutual with --mutual-user/--mutual-secret) for a target")
            { target, user, secret, mutualUser, mutualSecret };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var request = new ChapRequest
            {
                User = parse.GetValue(user),
                Secret = parse.GetValue(secret),
                MutualUser = parse.GetValue(mutualUser),
                MutualSecret = parse.GetValue(mutualSecret),
            };
            var result = await api.SetChapAsync(parse.GetValue(target)!, request, ct);
            printer.Print(result, (o, t) => o.WriteLine($"CHAP {(t.Chap.Mutual ? "(mutual)" : "(one-way)")} now required for {t.Name}."));
        });
        return command;
    }

    private static Command Clear(GlobalOptions globals, CliContext context)
    {
        var target = Target();
        var command = new Command("clear", "Stop requiring CHAP for a target") { target };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ClearChapAsync(parse.GetValue(target)!, ct);
            printer.Print(result, (o, t) => o.WriteLine($"CHAP cleared for {t.Name}."));
        });
        return command;
    }

    private static Command Discovery(GlobalOptions globals, CliContext context)
    {
        var user = User("CHAP user name for discovery sessions");
        var secret = Secret();
        var set = new Command("set", "Require CHAP for SendTargets discovery") { user, secret };
        ClientCommand.SetAction(set, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.SetDiscoveryChapAsync(new ChapRequest { User = parse.GetValue(user), Secret = parse.GetValue(secret) }, ct);
            printer.Print(result, (o, _) => o.WriteLine("CHAP now required for discovery."));
        });

        var clear = new Command("clear", "Stop requiring CHAP for discovery");
        ClientCommand.SetAction(clear, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ClearDiscoveryChapAsync(ct);
            printer.Print(result, (o, _) => o.WriteLine("Discovery CHAP cleared."));
        });

        var discovery = new Command("discovery", "CHAP for discovery sessions");
        discovery.Subcommands.Add(set);
        discovery.Subcommands.Add(clear);
        return discovery;
    }
}
