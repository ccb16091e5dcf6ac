using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;
using Tandem.Node.Devices;

namespace Tandem.Cli.Client;

/// <summary>Typed client of the management API (HTTP Basic as admin).</summary>
public sealed class ApiClient : IDisposable
{
    /// <summary>How long to wait for a TCP connection before calling the node unreachable.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Creating a large thick image writes the whole file, and verifying replicas reads it; allow them time (implementation limit).</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromHours(1);

    private readonly HttpClient _http;

    public ApiClient(Uri baseAddress, string user, string? password, HttpMessageHandler? handler = null)
    {
        BaseAddress = baseAddress;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = ConnectTimeout }, disposeHandler: true)
        {
            BaseAddress = baseAddress,
            Timeout = RequestTimeout,
        };
        if (password is not null)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", token);
        }
    }

    public Uri BaseAddress { get; }

    public Task<ApiResult<HealthResponse>> HealthAsync(CancellationToken ct) => SendAsync<HealthResponse>(HttpMethod.Get, "api/v1/health", null, ct);
    public Task<ApiResult<NodeDto>> GetNodeAsync(CancellationToken ct) => SendAsync<NodeDto>(HttpMethod.Get, "api/v1/node", null, ct);

    public Task<ApiResult<DeviceDto[]>> ListDevicesAsync(CancellationToken ct) => SendAsync<DeviceDto[]>(HttpMethod.Get, "api/v1/devices", null, ct);
    public Task<ApiResult<DeviceDto>> GetDeviceAsync(string name, CancellationToken ct) => SendAsync<DeviceDto>(HttpMethod.Get, $"api/v1/devices/{Esc(name)}", null, ct);
    public Task<ApiResult<DeviceDto>> CreateDeviceAsync(CreateDeviceRequest request, CancellationToken ct) => SendAsync<DeviceDto>(HttpMethod.Post, "api/v1/devices", request, ct);

    public Task<ApiResult<DeviceDto>> ExtendDeviceAsync(string name, long sizeBytes, CancellationToken ct) =>
        SendAsync<DeviceDto>(HttpMethod.Post, $"api/v1/devices/{Esc(name)}/extend", new ExtendDeviceRequest { SizeBytes = sizeBytes }, ct);

    public Task<ApiResult<object?>> RemoveDeviceAsync(string name, bool deleteImage, CancellationToken ct) =>
        SendAsync<object?>(HttpMethod.Delete, $"api/v1/devices/{Esc(name)}?deleteImage={(deleteImage ? "true" : "false")}", null, ct);

    public Task<ApiResult<ReplicaSetDto>> AddReplicasAsync(string device, AddReplicaRequest request, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Post, $"api/v1/devices/{Esc(device)}/replicas", request, ct);

    public Task<ApiResult<ReplicaSetDto>> GetReplicasAsync(string device, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Get, $"api/v1/devices/{Esc(device)}/replicas", null, ct);

    /// <param name="partner">The partner's management API endpoint as given when it was added, or its replica id.</param>
    public Task<ApiResult<ReplicaSetDto>> RemoveReplicaAsync(string device, string partner, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Delete, $"api/v1/devices/{Esc(device)}/replicas?partner={Esc(partner)}", null, ct);

    public Task<ApiResult<ReplicaSetDto>> SyncDeviceAsync(string device, bool full, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Post, $"api/v1/devices/{Esc(device)}/sync", new SyncRequest { Full = full }, ct);

    public Task<ApiResult<ReplicaSetDto>> MarkSynchronizedAsync(string device, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Post, $"api/v1/devices/{Esc(device)}/mark-synchronized", null, ct);

    /// <summary>Compares every replica's data; takes as long as reading the device (within the request timeout).</summary>
    public Task<ApiResult<VerifyResultDto>> VerifyDeviceAsync(string device, CancellationToken ct) =>
        SendAsync<VerifyResultDto>(HttpMethod.Post, $"api/v1/devices/{Esc(device)}/verify", null, ct);

    public Task<ApiResult<ReplicaSetDto>> AddWitnessAsync(string device, AddWitnessRequest request, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Post, $"api/v1/devices/{Esc(device)}/witness", request, ct);

    public Task<ApiResult<ReplicaSetDto>> RemoveWitnessAsync(string device, CancellationToken ct) =>
        SendAsync<ReplicaSetDto>(HttpMethod.Delete, $"api/v1/devices/{Esc(device)}/witness", null, ct);

    /// <summary>On a witness node: the witness devices it holds.</summary>
    public Task<ApiResult<WitnessDeviceDto[]>> ListWitnessDevicesAsync(CancellationToken ct) =>
        SendAsync<WitnessDeviceDto[]>(HttpMethod.Get, "api/v1/witness/devices", null, ct);

    public Task<ApiResult<TargetDto[]>> ListTargetsAsync(CancellationToken ct) => SendAsync<TargetDto[]>(HttpMethod.Get, "api/v1/targets", null, ct);

    public Task<ApiResult<TargetDto>> SetChapAsync(string target, ChapRequest chap, CancellationToken ct) =>
        SendAsync<TargetDto>(HttpMethod.Put, $"api/v1/targets/{Esc(target)}/chap", chap, ct);

    public Task<ApiResult<TargetDto>> ClearChapAsync(string target, CancellationToken ct) =>
        SendAsync<TargetDto>(HttpMethod.Delete, $"api/v1/targets/{Esc(target)}/chap", null, ct);

    public Task<ApiResult<TargetDto>> SetAclAsync(string target, AclRequest acl, CancellationToken ct) =>
        SendAsync<TargetDto>(HttpMethod.Put, $"api/v1/targets/{Esc(target)}/acl", acl, ct);

    public Task<ApiResult<TargetDto>> ClearAclAsync(string target, CancellationToken ct) =>
        SendAsync<TargetDto>(HttpMethod.Delete, $"api/v1/targets/{Esc(target)}/acl", null, ct);

    public Task<ApiResult<DiscoveryDto>> SetDiscoveryChapAsync(ChapRequest chap, CancellationToken ct) =>
        SendAsync<DiscoveryDto>(HttpMethod.Put, "api/v1/discovery/chap", chap, ct);

    public Task<ApiResult<DiscoveryDto>> ClearDiscoveryChapAsync(CancellationToken ct) =>
        SendAsync<DiscoveryDto>(HttpMethod.Delete, "api/v1/discovery/chap", null, ct);

    public Task<ApiResult<SessionDto[]>> ListSessionsAsync(CancellationToken ct) => SendAsync<SessionDto[]>(HttpMethod.Get, "api/v1/sessions", null, ct);

    private static string Esc(string segment) => Uri.EscapeDataString(segment);

    private async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
            request.Content = new StringContent(JsonSerializer.Serialize(body, body.GetType(), ApiJson.Options), Encoding.UTF8, "application/json");

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
                                                  || e.InnerException is SocketException)
        {
            var reason = e.InnerException is SocketException s ? s.Message : e.Message;
            throw new ServerUnreachableException(Display, reason, e);
        }
        catch (HttpRequestException e)
        {
            throw new ServerUnreachableException(Display, e.Message, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ServerUnreachableException(Display, "the request timed out", e);
        }

        using (response)
        {
            var json = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
                throw ToApiException((int)response.StatusCode, response.ReasonPhrase, json);
            if (json.Length == 0)
                return new ApiResult<T>(default!, "");
            try
            {
                return new ApiResult<T>(JsonSerializer.Deserialize<T>(json, ApiJson.Options)!, json);
            }
            catch (JsonException e)
            {
                throw new ApiException((int)response.StatusCode, "invalid_response", $"the node sent a response this CLI cannot read: {e.Message}");
            }
        }
    }

    private string Display => $"{BaseAddress.Host}:{BaseAddress.Port}";

    private static ApiException ToApiException(int status, string? reason, string json)
    {
        try
        {
            var error = JsonSerializer.Deserialize<ErrorResponse>(json, ApiJson.Options)?.Error;
            if (error is { Code: not null, Message: not null })
                return new ApiException(status, error.Code, error.Message);
        }
        catch (JsonException)
        {
        }

        return new ApiException(status, $"http_{status}", $"the node answered HTTP {status} {reason}".TrimEnd());
    }

    public void Dispose() => _http.Dispose();
}
