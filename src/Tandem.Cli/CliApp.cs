using System.CommandLine;
using System.CommandLine.Help;
using Tandem.Cli.Commands;

namespace Tandem.Cli;

/// <summary>
/// The `tandem` command line: `serve`/`demo` run a node; every other command is a client of a
/// node's management API. Exit codes: see <see cref="ExitCodes"/>.
/// </summary>
public static class CliApp
{
    public static Task<int> Main(string[] args) => RunAsync(args, CliContext.FromProcess());

    /// <param name="stopToken">Stops a running `serve`/`demo` (besides SIGINT/SIGTERM); used by tests.</param>
    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken stopToken = default)
    {
        var root = Build(context, stopToken);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            foreach (var error in parse.Errors)
                await context.Error.WriteLineAsync($"error: {error.Message}");
            await context.Error.WriteLineAsync("Run 'tandem --help' (or 'tandem <command> --help') for usage.");
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = context.Out,
            Error = context.Error,
            // serve handles SIGINT/SIGTERM itself so that shutdown can flush devices without a deadline.
            ProcessTerminationTimeout = null,
        }, stopToken);
    }

    public static RootCommand Build(CliContext context, CancellationToken stopToken = default)
    {
        var globals = new GlobalOptions();
        var root = new RootCommand("Tandem virtual SAN: run a node (serve, demo) or manage one through its API.");
        globals.AddTo(root);
        root.Subcommands.Add(ServeCommand.Serve(context, stopToken));
        root.Subcommands.Add(ServeCommand.Demo(context, stopToken));
        root.Subcommands.Add(DeviceCommands.Build(globals, context));
        root.Subcommands.Add(ReplicaCommands.Build(globals, context));
        root.Subcommands.Add(WitnessCommands.Build(globals, context));
        root.Subcommands.Add(TargetCommands.Build(globals, context));
        root.Subcommands.Add(SessionCommands.Build(globals, context));
        root.Subcommands.Add(ChapCommands.Build(globals, context));
        root.Subcommands.Add(AclCommands.Build(globals, context));
        root.Subcommands.Add(NodeCommands.Build(globals, context));
        root.Subcommands.Add(NodeCommands.Status(globals, context));
        return root;
    }
}
