namespace Tandem.Iscsi.Sessions;

/// <summary>
/// Initiator task tags of tasks that ended early (aborted or failed before all their data arrived).
/// Data-Out still in flight for them is discarded quietly instead of being rejected.
/// </summary>
internal sealed class RecentTags
{
    private readonly uint[] _tags;
    private readonly bool[] _used;
    private int _next;

    public RecentTags(int capacity)
    {
        _tags = new uint[capacity];
        _used = new bool[capacity];
    }

    public void Add(uint tag)
    {
        _tags[_next] = tag;
        _used[_next] = true;
        _next = (_next + 1) % _tags.Length;
    }

    public bool Contains(uint tag)
    {
        for (int i = 0; i < _tags.Length; i++)
        {
            if (_used[i] && _tags[i] == tag)
                return true;
        }
        return false;
    }
}
