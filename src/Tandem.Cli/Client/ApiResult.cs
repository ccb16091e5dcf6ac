namespace Tandem.Cli.Client;

/// <summary>A successful API answer: the parsed document and its raw JSON (what --json prints).</summary>
public sealed record ApiResult<T>(T Value, string Json);
