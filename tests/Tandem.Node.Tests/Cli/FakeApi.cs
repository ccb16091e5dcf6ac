using System.Net;
using System.Text;
using System.Text.Json;
using Tandem.Cli;
using Tandem.Node.Api;
using Tandem.Node.Tests.Support;

namespace Tandem.Node.Tests.Cli;

/// <summary>
/// Stands in for a node's management API: records every request the CLI sends and answers with a canned
/// document, so commands can be tested without a node (or before the node implements an endpoint).
/// </summary>
public sealed class FakeApi : IDisposable
{
    public const string Server = "10.9.8.7:3261";

    private readonly TempDirectory _cwd = new();

    public sealed record Request(HttpMethod Method, string Path, string Query, string? Body, string? ContentType);

    public List<Request> Requests { get; } = [];

    /// <summary>Environment variables the CLI sees (none of the developer's).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;

    /// <summary>The answer's body (JSON).</summary>
    public string Response { get; set; } = "";

    public void Answer(HttpStatusCode status, object document)
    {
        Status = status;
        Response = JsonSerializer.Serialize(document, document.GetType(), ApiJson.Options);
    }

    public void AnswerError(HttpStatusCode status, string code, string message)
    {
        Status = status;
        Response = JsonSerializer.Serialize(new { error = new { code, message } });
    }

    public Request Single() => Assert.Single(Requests);

    public async Task<CliRunner.Result> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var context = new CliContext(output, error, name => Environment.GetValueOrDefault(name), _cwd.Path)
        {
            CreateHttpHandler = () => new Handler(this),
        };
        var code = await CliApp.RunAsync([.. args, "--server", Server, "--password", "pw"], context);
        return new CliRunner.Result(code, output.ToString(), error.ToString());
    }

    public void Dispose() => _cwd.Dispose();

    private sealed class Handler(FakeApi api) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var uri = request.RequestUri!;
            Assert.Equal(Server, $"{uri.Host}:{uri.Port}");
            var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(ct);
            lock (api.Requests)
                api.Requests.Add(new Request(request.Method, uri.AbsolutePath, uri.Query, body, request.Content?.Headers.ContentType?.MediaType));
            return new HttpResponseMessage(api.Status)
            {
                Content = new StringContent(api.Response, Encoding.UTF8, "application/json"),
                RequestMessage = request,
            };
        }
    }
}
