using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tandem.Node.Hosting;

namespace Tandem.Node.Api;

/// <summary>
/// The management API: HTTP + JSON on Kestrel, endpoints in one small file per resource.
/// The node controls its lifetime (no console lifetime of its own: the CLI handles signals).
/// </summary>
internal static class ManagementApi
{
    /// <summary>Implementation limit: every request body is a small JSON document.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    public static WebApplication Build(TandemNode node, IPEndPoint endpoint)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            // Keep stray appsettings.json files in the working directory out of the node's behaviour.
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(node.LoggerFactory);
        builder.Services.AddSingleton<IHostLifetime, ExternallyControlledLifetime>();
        builder.Services.AddSingleton(node);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.Listen(endpoint);
        });

        var app = builder.Build();
        var log = node.LoggerFactory.CreateLogger("Tandem.Node.Api");
        var auth = new BasicAuthentication(node.AdminPassword, () => node.Devices.Config.Cluster?.Secret, log);
        app.Use((context, next) => ApiErrors.HandleAsync(context, next, log));
        app.Use(auth.HandleAsync);

        HealthEndpoints.Map(app);
        NodeEndpoints.Map(app);
        DeviceEndpoints.Map(app);
        ReplicaEndpoints.Map(app);
        WitnessEndpoints.Map(app);
        TargetEndpoints.Map(app);
        DiscoveryEndpoints.Map(app);
        SessionEndpoints.Map(app);
        OpenApiEndpoints.Map(app);
        return app;
    }

    /// <summary>The node starts and stops the web host itself; signals are handled by the CLI.</summary>
    private sealed class ExternallyControlledLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
