namespace Tandem.Cli.Client;

/// <summary>The node answered with an error document ({"error":{"code","message"}}).</summary>
public sealed class ApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
}

/// <summary>No answer from the node: connection refused, unknown host, timeout.</summary>
public sealed class ServerUnreachableException(string address, string reason, Exception? inner = null)
    : Exception($"cannot reach {address}: {reason}", inner)
{
    public string Address { get; } = address;
}
