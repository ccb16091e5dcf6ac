using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tandem.Node.Api;
using Tandem.Node.Api.Models;
using Tandem.Replication.Failover;

namespace Tandem.Node.HighAvailability;

/// <summary>
/// A data node asking a witness node for its vote (POST /api/v1/witness/devices/{naa}/vote, as user
/// <c>cluster</c>). Timeouts are short, so that a dead witness answers
/// <see cref="WitnessVerdict.Unreachable"/> well within a lease; failures are answers, never exceptions.
/// </summary>
public sealed class WitnessNodeClient : IWitness
{
    /// <summary>Connect and whole-request limit: a vote is worth asking again rather than waiting for.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private readonly HttpClient _http;
    private readonly string _devicePath;

    /// <param name="address">The witness node's management API, "host:port".</param>
    /// <param name="deviceNaaHex">The HA device's NAA identifier (32 hex digits): its witness device there.</param>
    /// <param name="clusterSecret">The cluster secret (base64), the password of user <c>cluster</c>.</param>
    public WitnessNodeClient(string address, string deviceNaaHex, string clusterSecret)
    {
        Address = address;
        _devicePath = $"api/v1/witness/devices/{Uri.EscapeDataString(deviceNaaHex.ToLowerInvariant())}";
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = Timeout })
        {
            BaseAddress = new Uri($"http://{address}/"),
            Timeout = Timeout,
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PartnerClient.ClusterUser}:{clusterSecret}")));
    }

    public string Address { get; }

    public string Description => $"witness node {Address}";

    public async Task<WitnessAnswer> RequestVoteAsync(WitnessRequest request, CancellationToken cancellationToken)
    {
        var body = new WitnessVoteRequest
        {
            NodeId = request.NodeId,
            Generation = request.Generation,
            History = request.History,
            NextGeneration = request.NextGeneration,
            Force = request.Force,
        };
        var (answer, failure) = await PostAsync<WitnessAnswerDto>("vote", body, cancellationToken);
        if (answer is null)
            return WitnessAnswer.Unreachable(failure!);
        return answer.Verdict switch
        {
            "granted" when answer.LeaseMilliseconds > 0 => WitnessAnswer.Granted(TimeSpan.FromMilliseconds(answer.LeaseMilliseconds)),
            "refused" => WitnessAnswer.Refused(answer.Reason),
            // Not a vote this node can count: treat it like no answer.
            _ => WitnessAnswer.Unreachable($"{Description} answered verdict '{answer.Verdict}' with a lease of {answer.LeaseMilliseconds} ms"),
        };
    }

    /// <summary>Best effort: an unreachable witness lets the lease run out instead.</summary>
    public async Task ReleaseAsync(int nodeId, CancellationToken cancellationToken) =>
        await PostAsync<WitnessDeviceDto>("release", new WitnessReleaseRequest { NodeId = nodeId }, cancellationToken);

    /// <returns>The answer, or null and why there is none.</returns>
    private async Task<(T? Answer, string? Failure)> PostAsync<T>(string action, object body, CancellationToken cancellationToken) where T : class
    {
        try
        {
            using var response = await _http.PostAsync($"{_devicePath}/{action}", JsonContent.Create(body, body.GetType(), options: ApiJson.Options), cancellationToken);
            string text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
                return (null, $"{Description} refused the request ({(int)response.StatusCode}): {ErrorText(text)}");
            return (JsonSerializer.Deserialize<T>(text, ApiJson.Options)
                ?? throw new JsonException("empty answer"), null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or IOException)
        {
            string why = e is TaskCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : e.Message;
            return (null, $"{Description} is unreachable: {why}");
        }
    }

    private static string ErrorText(string text)
    {
        try
        {
            if (JsonSerializer.Deserialize<ErrorResponse>(text, ApiJson.Options)?.Error is { } error)
                return $"{error.Code}: {error.Message}";
        }
        catch (JsonException)
        {
        }
        return text.Length > 200 ? text[..200] : text;
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
