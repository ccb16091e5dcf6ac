using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Node.Api;
using Tandem.Node.Hosting;

namespace Tandem.Node.Tests.Support;

/// <summary>
/// A real node on 127.0.0.1 with ephemeral iSCSI and API ports and a temporary data directory,
/// plus HTTP clients for its management API.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    public const string Password = "test-admin-password";

    private readonly TempDirectory? _ownedDirectory;

    private TestNode(TandemNode node, TempDirectory? ownedDirectory, string dataDir)
    {
        Node = node;
        _ownedDirectory = ownedDirectory;
        DataDir = dataDir;
        Http = CreateClient(Password);
    }

    public TandemNode Node { get; private set; }
    public string DataDir { get; }
    public HttpClient Http { get; private set; }
    public string NodeConfigPath => Path.Combine(DataDir, "node.json");
    public string DevicesDir => Path.Combine(DataDir, "devices");

    public static NodeOptions Options(string dataDir, string? password = Password) => new()
    {
        DataDirectory = dataDir,
        Portals = [new IPEndPoint(IPAddress.Loopback, 0)],
        ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
        NodeName = "testnode",
        AdminPassword = password,
        LoggerFactory = NullLoggerFactory.Instance,
    };

    /// <summary>Starts a node in a new temp directory (deleted on dispose) or in <paramref name="dataDir"/>.</summary>
    public static async Task<TestNode> StartAsync(string? dataDir = null)
    {
        var owned = dataDir is null ? new TempDirectory() : null;
        var dir = dataDir ?? owned!.Combine("data");
        try
        {
            var node = await TandemNode.StartAsync(Options(dir));
            return new TestNode(node, owned, dir);
        }
        catch
        {
            owned?.Dispose();
            throw;
        }
    }

    /// <summary>Stops the node and starts a new one on the same data directory.</summary>
    public async Task RestartAsync()
    {
        await Node.StopAsync();
        Http.Dispose();
        Node = await TandemNode.StartAsync(Options(DataDir));
        Http = CreateClient(Password);
    }

    public HttpClient CreateClient(string? password, string user = "admin")
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://{Node.ApiEndpoint}/") };
        if (password is not null)
            client.DefaultRequestHeaders.Authorization =
                new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) =>
        Http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body, ApiJson.Options), Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PutJsonAsync(string path, object body) =>
        Http.PutAsync(path, new StringContent(JsonSerializer.Serialize(body, ApiJson.Options), Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PostRawAsync(string path, string body) =>
        Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<T>(ApiJson.Options))!;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Node.StopAsync();
        _ownedDirectory?.Dispose();
    }
}
