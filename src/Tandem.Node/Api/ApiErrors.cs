using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tandem.Node.Api.Models;
using Tandem.Node.Errors;

namespace Tandem.Node.Api;

/// <summary>
/// The one place that turns failures into API errors: exceptions to status + code, and empty
/// framework responses (unknown route, wrong method) into the same JSON shape.
/// </summary>
internal static class ApiErrors
{
    public static int StatusFor(string code) => code switch
    {
        ErrorCodes.InvalidArgument or ErrorCodes.InvalidName or ErrorCodes.InvalidSize or ErrorCodes.InvalidJson => StatusCodes.Status400BadRequest,
        ErrorCodes.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorCodes.NotFound => StatusCodes.Status404NotFound,
        ErrorCodes.MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        ErrorCodes.AlreadyExists or ErrorCodes.DeviceUnavailable or ErrorCodes.ReplicaState or ErrorCodes.ClusterMismatch => StatusCodes.Status409Conflict,
        ErrorCodes.PartnerError => StatusCodes.Status502BadGateway,
        ErrorCodes.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static Task WriteAsync(HttpContext context, string code, string message)
    {
        context.Response.StatusCode = StatusFor(code);
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new ErrorResponse(new ApiError(code, message)), ApiJson.Options));
    }

    /// <summary>Outermost middleware.</summary>
    public static async Task HandleAsync(HttpContext context, RequestDelegate next, ILogger log)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            var (code, message) = Map(e);
            if (code == ErrorCodes.Internal || code == ErrorCodes.IoError || code == ErrorCodes.ConfigError)
                log.LogError(e, "{Method} {Path} failed: {Message}", context.Request.Method, context.Request.Path, e.Message);
            else
                log.LogInformation("{Method} {Path} refused: {Code}: {Message}", context.Request.Method, context.Request.Path, code, message);
            context.Response.Clear();
            await WriteAsync(context, code, message);
            return;
        }

        // Routing answers unknown paths and wrong methods with an empty body; give them our shape.
        if (!context.Response.HasStarted && context.Response.ContentLength is null && context.Response.ContentType is null)
        {
            switch (context.Response.StatusCode)
            {
                case StatusCodes.Status404NotFound:
                    await WriteAsync(context, ErrorCodes.NotFound, $"No API resource at {context.Request.Path}.");
                    break;
                case StatusCodes.Status405MethodNotAllowed:
                    await WriteAsync(context, ErrorCodes.MethodNotAllowed, $"{context.Request.Method} is not allowed on {context.Request.Path}.");
                    break;
            }
        }
    }

    private static (string Code, string Message) Map(Exception e) => e switch
    {
        TandemException t => (t.Code, t.Message),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            (ErrorCodes.PayloadTooLarge, "The request body is too large."),
        BadHttpRequestException b => (ErrorCodes.InvalidArgument, b.Message),
        ObjectDisposedException => (ErrorCodes.Unavailable, "The node is shutting down."),
        OperationCanceledException => (ErrorCodes.Unavailable, "The request was cancelled."),
        _ => (ErrorCodes.Internal, $"Internal error: {e.Message}"),
    };
}
