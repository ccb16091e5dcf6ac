namespace Tandem.Node.Errors;

/// <summary>
/// An error the administrator can act on: a stable <see cref="Code"/> (see <see cref="ErrorCodes"/>)
/// and a human sentence. Thrown before anything is changed, so a caught one means "nothing happened".
/// </summary>
public sealed class TandemException(string code, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;

    public static TandemException NotFound(string what) => new(ErrorCodes.NotFound, $"{what} was not found.");
    public static TandemException Invalid(string message) => new(ErrorCodes.InvalidArgument, message);
}
