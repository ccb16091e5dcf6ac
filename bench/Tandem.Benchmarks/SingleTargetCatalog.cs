using Tandem.Iscsi.Targets;

namespace Tandem.Benchmarks;

/// <summary>A catalog holding one target, open to everyone: all the in-process benchmark logs in to.</summary>
internal sealed class SingleTargetCatalog(IscsiTargetDefinition target) : ITargetCatalog
{
    public IReadOnlyCollection<IscsiTargetDefinition> Targets { get; } = [target];

    public ChapCredentials? DiscoveryChap => null;

    public bool TryGetTarget(string name, out IscsiTargetDefinition found)
    {
        found = target;
        return string.Equals(name, target.Name, StringComparison.Ordinal);
    }
}
