namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>
/// Interop tests start real node processes and real clients; on a 2-core machine running them
/// one at a time keeps them from starving each other (and keeps their logs readable).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InteropCollection
{
    public const string Name = "interop";
}
