using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>
/// A real `tandem serve` process with its own data directory, driven through its management API:
/// on loopback by default, or wherever <see cref="NodeEndpoints"/> say (e.g. inside a network
/// namespace of the lab). Killed (and its data directory removed by the owning test) when disposed.
/// </summary>
public sealed class TandemNode : IAsyncDisposable
{
    public const string AdminPassword = "interop-admin-password";

    private readonly StringBuilder _log = new();
    private Process? _process;

    public TandemNode(string dataDirectory, IReadOnlyList<IPAddress>? portalAddresses = null, string nodeName = "interop")
        : this(dataDirectory, NodeEndpoints.OnLoopback(portalAddresses ?? [IPAddress.Loopback]), nodeName)
    {
    }

    public TandemNode(string dataDirectory, NodeEndpoints endpoints, string nodeName)
    {
        DataDirectory = dataDirectory;
        NodeName = nodeName;
        Endpoints = endpoints;
        // No proxy, ever: lab nodes listen on 198.18.0.0/15 addresses, which a proxy taken from
        // the environment would be asked for (and traffic must never leave the machine).
        Api = new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            BaseAddress = new Uri($"http://{endpoints.Api}/"),
            Timeout = TimeSpan.FromMinutes(2),
        };
        Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + AdminPassword)));
    }

    public string DataDirectory { get; }
    public string NodeName { get; }
    public NodeEndpoints Endpoints { get; }
    public IReadOnlyList<IPAddress> PortalAddresses => Endpoints.PortalAddresses;
    public int IscsiPort => Endpoints.IscsiPort;
    public int ApiPort => Endpoints.Api.Port;

    /// <summary>Replication port (on the first portal address unless the endpoints say otherwise).</summary>
    public int ReplicationPort => Endpoints.Replication.Port;
    public HttpClient Api { get; }
    public string Portal => $"{PortalAddresses[0]}:{IscsiPort}";
    public string ApiEndPoint => Endpoints.Api.ToString();
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Path of the built `tandem` assembly (copied beside the tests by the project reference).</summary>
    public static string TandemDll => Path.Combine(AppContext.BaseDirectory, "tandem.dll");

    public static async Task<TandemNode> StartAsync(string dataDirectory, IReadOnlyList<IPAddress>? portalAddresses = null, string nodeName = "interop")
    {
        var node = new TandemNode(dataDirectory, portalAddresses, nodeName);
        await node.StartAsync();
        return node;
    }

    public static async Task<TandemNode> StartAsync(string dataDirectory, NodeEndpoints endpoints, string nodeName)
    {
        var node = new TandemNode(dataDirectory, endpoints, nodeName);
        await node.StartAsync();
        return node;
    }

    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
            throw new InvalidOperationException("node already running");

        string[] command = [.. Endpoints.Launcher, "dotnet"];
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
            info.ArgumentList.Add(argument);
        info.ArgumentList.Add(TandemDll);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add("--data-dir");
        info.ArgumentList.Add(DataDirectory);
        foreach (var address in PortalAddresses)
        {
            info.ArgumentList.Add("--portal");
            info.ArgumentList.Add($"{address}:{IscsiPort}");
        }
        info.ArgumentList.Add("--api");
        info.ArgumentList.Add(ApiEndPoint);
        foreach (var replication in Endpoints.MoreReplication.Prepend(Endpoints.Replication))
        {
            info.ArgumentList.Add("--replication");
            info.ArgumentList.Add(replication.ToString());
        }
        info.ArgumentList.Add("--admin-password");
        info.ArgumentList.Add(AdminPassword);
        info.ArgumentList.Add("--node-name");
        info.ArgumentList.Add(NodeName);
        foreach (var argument in Endpoints.ServeArguments)
            info.ArgumentList.Add(argument);

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start tandem");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"tandem exited with {process.ExitCode} during start:\n{Log}");
            try
            {
                using var response = await Api.GetAsync("api/v1/health");
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"tandem did not answer on {ApiEndPoint}:\n{Log}");
    }

    /// <summary>SIGKILL: the node gets no chance to flush or clean up (a crash).</summary>
    public async Task KillAsync()
    {
        if (_process is null || _process.HasExited)
            return;
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM and wait for the clean shutdown; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        if (_process is null || _process.HasExited)
            return _process?.ExitCode ?? 0;
        Signal(_process.Id, 15);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            throw new TimeoutException($"tandem did not stop on SIGTERM:\n{Log}");
        }
        return _process.ExitCode;
    }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The node's process id (`ip netns exec` execs the node in place), or null when not running.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Signal(int pid, int signal);

    public async Task<JsonElement> CreateDeviceAsync(object request)
    {
        using var response = await Api.PostAsJsonAsync("api/v1/devices", request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"device create failed: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Api.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET {path} failed: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> PostJsonAsync(string path, object? body)
    {
        using var response = await Api.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST {path} failed: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task PutJsonAsync(string path, object body)
    {
        using var response = await Api.PutAsJsonAsync(path, body);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"PUT {path} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>libiscsi URL of LUN 0 of <paramref name="targetName"/> through this node's first portal.</summary>
    public string LunUrl(string targetName, string? credentials = null) =>
        $"iscsi://{(credentials is null ? "" : credentials + "@")}{Portal}/{targetName}/0";

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}
