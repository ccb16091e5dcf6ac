using System.Collections.Concurrent;
using Tandem.Iscsi.Targets;

namespace Tandem.Node.Devices;

/// <summary>
/// The targets this node publishes, read by the iSCSI layer at every login and discovery.
/// Lock-free for readers; the <see cref="DeviceManager"/> is the only writer.
/// </summary>
public sealed class TargetCatalog : ITargetCatalog
{
    // iSCSI names compare case-insensitively once normalised (RFC 3722); we store normalised names.
    private readonly ConcurrentDictionary<string, IscsiTargetDefinition> _targets = new(StringComparer.OrdinalIgnoreCase);
    private volatile ChapCredentials? _discoveryChap;

    public bool TryGetTarget(string name, out IscsiTargetDefinition target) =>
        _targets.TryGetValue(name, out target!);

    public IReadOnlyCollection<IscsiTargetDefinition> Targets =>
        _targets.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();

    public ChapCredentials? DiscoveryChap
    {
        get => _discoveryChap;
        set => _discoveryChap = value;
    }

    internal bool Add(IscsiTargetDefinition target) => _targets.TryAdd(target.Name, target);

    internal bool Remove(string name) => _targets.TryRemove(name, out _);
}
