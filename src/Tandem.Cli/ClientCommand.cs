using System.CommandLine;
using Tandem.Cli.Client;
using Tandem.Node.Errors;

namespace Tandem.Cli;

/// <summary>Runs a client command body and turns its failures into messages and exit codes.</summary>
public static class ClientCommand
{
    public delegate Task Body(ParseResult parse, ApiClient api, Printer printer, CancellationToken ct);

    /// <summary>A body that picks its own exit code (e.g. <see cref="ExitCodes.DifferencesFound"/>).</summary>
    public delegate Task<int> BodyWithExitCode(ParseResult parse, ApiClient api, Printer printer, CancellationToken ct);

    public static void SetAction(Command command, GlobalOptions globals, CliContext context, Body body) =>
        SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            await body(parse, api, printer, ct);
            return ExitCodes.Success;
        });

    public static void SetAction(Command command, GlobalOptions globals, CliContext context, BodyWithExitCode body) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                using var api = globals.CreateClient(parse, context);
                return await body(parse, api, new Printer(context, parse.GetValue(globals.Json)), ct);
            }
            catch (ApiException e)
            {
                await context.Error.WriteLineAsync($"error: {e.Message} ({e.Code})");
                if (e.Code == ErrorCodes.Unauthorized)
                    await context.Error.WriteLineAsync("hint: give --password (or TANDEM_PASSWORD); the node stores it in <data-dir>/admin.secret.");
                return ExitCodes.Failure;
            }
            catch (ServerUnreachableException e)
            {
                await context.Error.WriteLineAsync($"error: {e.Message.TrimEnd('.')}. Is a Tandem node (`tandem serve`) running there? Use --server ADDR:PORT or TANDEM_SERVER.");
                return ExitCodes.Unreachable;
            }
            catch (TandemException e)
            {
                await context.Error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Usage;
            }
            catch (UsageException e)
            {
                await context.Error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Usage;
            }
        });
}

/// <summary>A command line that parses but does not make sense (e.g. two exclusive options).</summary>
public sealed class UsageException(string message) : Exception(message);
