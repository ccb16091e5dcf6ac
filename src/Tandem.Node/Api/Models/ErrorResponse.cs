namespace Tandem.Node.Api.Models;

/// <summary>Every API error: <c>{"error":{"code":"not_found","message":"Device 'x' was not found."}}</c>.</summary>
public sealed record ErrorResponse(ApiError Error);

/// <param name="Code">Stable snake_case code (see <see cref="Errors.ErrorCodes"/>).</param>
/// <param name="Message">A sentence for humans.</param>
public sealed record ApiError(string Code, string Message);
