using System.CommandLine;
using Tandem.Cli.Client;
using Tandem.Node.Config;
using Tandem.Node.Hosting;

namespace Tandem.Cli;

/// <summary>Options every client command takes: where the node is, how to log in, output format.</summary>
public sealed class GlobalOptions
{
    public const string DefaultServer = "127.0.0.1:3261";

    public Option<string?> Server { get; } = new("--server")
    {
        Description = $"Node management address ADDR:PORT (env TANDEM_SERVER; default {DefaultServer})",
        Recursive = true,
    };

    public Option<string?> User { get; } = new("--user")
    {
        Description = "API user (env TANDEM_USER; default admin)",
        Recursive = true,
    };

    public Option<string?> Password { get; } = new("--password")
    {
        Description = "API password (env TANDEM_PASSWORD; default: read ./tandem-data/admin.secret when present)",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print the API's JSON instead of tables",
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Server);
        root.Options.Add(User);
        root.Options.Add(Password);
        root.Options.Add(Json);
    }

    /// <summary>Builds the API client from options, then environment, then defaults.</summary>
    /// <exception cref="Node.Errors.TandemException">A malformed --server (usage error).</exception>
    public ApiClient CreateClient(ParseResult parse, CliContext context)
    {
        var server = parse.GetValue(Server) ?? context.GetEnvironmentVariable("TANDEM_SERVER") ?? DefaultServer;
        var user = parse.GetValue(User) ?? context.GetEnvironmentVariable("TANDEM_USER") ?? AdminSecret.UserName;
        var password = parse.GetValue(Password) ?? context.GetEnvironmentVariable("TANDEM_PASSWORD") ?? ReadLocalSecret(context);
        return new ApiClient(ToBaseUri(server), user, password, context.CreateHttpHandler?.Invoke());
    }

    public static Uri ToBaseUri(string server)
    {
        if (server.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || server.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            if (Uri.TryCreate(server.TrimEnd('/') + "/", UriKind.Absolute, out var uri))
                return uri;
            throw Node.Errors.TandemException.Invalid($"--server '{server}' is not a valid URL.");
        }

        var (host, port) = EndpointParser.ParseHostPort(server, "--server");
        return new UriBuilder("http", host, port, "/").Uri;
    }

    /// <summary>Same-host convenience: the node writes its admin password to ./tandem-data/admin.secret.</summary>
    private static string? ReadLocalSecret(CliContext context)
    {
        var path = Path.Combine(context.WorkingDirectory, DataDirectory.DefaultPath, "admin.secret");
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
