using Tandem.Iscsi.Targets;

namespace Tandem.Iscsi.Tests.Support;

/// <summary>A fixed set of targets for tests.</summary>
public sealed class TestCatalog : ITargetCatalog
{
    private readonly Dictionary<string, IscsiTargetDefinition> _targets = new(StringComparer.Ordinal);

    public TestCatalog(params IscsiTargetDefinition[] targets)
    {
        foreach (IscsiTargetDefinition target in targets)
            _targets[target.Name] = target;
    }

    public ChapCredentials? DiscoveryChap { get; set; }

    public IReadOnlyCollection<IscsiTargetDefinition> Targets => _targets.Values;

    public bool TryGetTarget(string name, out IscsiTargetDefinition target)
    {
        bool found = _targets.TryGetValue(name, out IscsiTargetDefinition? value);
        target = value!;
        return found;
    }
}
