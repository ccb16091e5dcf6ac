using Tandem.Cli.Client;
using Tandem.Cli.Output;

namespace Tandem.Cli;

/// <summary>Prints a result either as the API's JSON (--json) or in human form.</summary>
public sealed class Printer(CliContext context, bool json)
{
    public TextWriter Out => context.Out;
    public bool Json => json;

    public void Print<T>(ApiResult<T> result, Action<TextWriter, T> human)
    {
        if (json)
            JsonOutput.Write(context.Out, result.Json);
        else
            human(context.Out, result.Value);
    }

    /// <summary>For answers without a body (204): a sentence for humans, nothing for scripts.</summary>
    public void Message(string text)
    {
        if (!json)
            context.Out.WriteLine(text);
    }
}
