using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;
using Tandem.Node.Errors;

namespace Tandem.Node.HighAvailability;

/// <summary>
/// This node calling a partner node's management API (to create the partner device, join it to the
/// cluster, remove it). Errors come back as partner_error naming the partner and its answer.
/// </summary>
internal sealed partial class PartnerClient : IDisposable
{
    /// <summary>User name for node-to-node calls authenticated with the cluster secret.</summary>
    public const string ClusterUser = "cluster";

    private readonly HttpClient _http;

    public PartnerClient(string endpoint, string user, string? password)
    {
        Endpoint = endpoint;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = new Uri($"http://{endpoint}/"),
            // Creating a large thick partner image writes the whole file (implementation limit).
            Timeout = TimeSpan.FromHours(1),
        };
        if (password is not null)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    public string Endpoint { get; }

    /// <summary>What the called node is to this one, for error messages ("Partner", "Witness node").</summary>
    public string Role { get; init; } = "Partner";

    public Task<NodeDto> GetNodeAsync(CancellationToken ct) => SendAsync<NodeDto>(HttpMethod.Get, "api/v1/node", null, ct);

    public Task JoinClusterAsync(JoinClusterRequest request, CancellationToken ct) => SendAsync<JsonElement>(HttpMethod.Post, "api/v1/cluster/join", request, ct);

    public Task<DeviceDto> CreatePartnerDeviceAsync(PartnerDeviceRequest request, CancellationToken ct) =>
        SendAsync<DeviceDto>(HttpMethod.Post, "api/v1/replication/partner-devices", request, ct);

    public Task RemoveDeviceAsync(string name, bool deleteImage, CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/devices/{Uri.EscapeDataString(name)}?deleteImage={(deleteImage ? "true" : "false")}", null, ct);

    public Task ForgetMemberAsync(string name, int nodeId, CancellationToken ct) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/replication/partner-devices/{Uri.EscapeDataString(name)}/members/{nodeId}", null, ct);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
            request.Content = JsonContent.Create(body, body.GetType(), options: ApiJson.Options);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new TandemException(ErrorCodes.PartnerError, $"{Role} {Endpoint} is unreachable: {e.Message}", e);
        }
        using (response)
        {
            string text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                string message = text;
                try
                {
                    var error = JsonSerializer.Deserialize<ErrorResponse>(text, ApiJson.Options);
                    if (error?.Error is { } e)
                        message = $"{e.Code}: {e.Message}";
                }
                catch (JsonException)
                {
                }
                throw new TandemException(ErrorCodes.PartnerError, $"{Role} {Endpoint} refused ({(int)response.StatusCode}): {message}");
            }
            if (typeof(T) == typeof(JsonElement) && text.Length == 0)
                return default!;
            try
            {
                return JsonSerializer.Deserialize<T>(text, ApiJson.Options)!;
            }
            catch (JsonException e)
            {
                throw new TandemException(ErrorCodes.PartnerError, $"{Role} {Endpoint} answered something that is not a Tandem API response: {e.Message}", e);
            }
        }
    }

    public void Dispose() => _http.Dispose();
}
