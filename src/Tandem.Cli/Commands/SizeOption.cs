using System.CommandLine;
using Tandem.Node.Validation;

namespace Tandem.Cli.Commands;

/// <summary>An option holding a size such as 10G, 512MiB or 1073741824 (see <see cref="SizeParser"/>).</summary>
internal static class SizeOption
{
    public static Option<long> Create(string name, string description) => new(name)
    {
        Description = description + " (bytes, or with a unit: K/KiB, M/MiB, G/GiB, T/TiB = 1024-based; KB, MB, GB, TB = 1000-based)",
        Required = true,
        HelpName = "SIZE",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (SizeParser.TryParse(text, out var bytes, out var error))
                return bytes;
            result.AddError($"{name}: {error}");
            return 0;
        },
    };
}
