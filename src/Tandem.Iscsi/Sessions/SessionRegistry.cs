namespace Tandem.Iscsi.Sessions;

/// <summary>
/// Normal sessions of the server, by TSIH and by initiator port (name + ISID) and target, so a new login
/// of the same initiator port reinstates its session (RFC 7143 §6.3.5) and resets reach every session of
/// a target.
/// </summary>
internal sealed class SessionRegistry
{
    private readonly Lock _sync = new();
    private readonly Dictionary<ushort, IscsiSession> _byTsih = [];
    private ushort _lastTsih = (ushort)Random.Shared.Next(1, ushort.MaxValue);

    public int Count { get { lock (_sync) return _byTsih.Count; } }

    /// <summary>Allocates a TSIH and adds the session built with it; null when <paramref name="maxSessions"/> is reached.</summary>
    public IscsiSession? TryAdd(Func<ushort, IscsiSession> create, int maxSessions)
    {
        lock (_sync)
        {
            if (_byTsih.Count >= maxSessions)
                return null;
            ushort tsih = _lastTsih;
            do
            {
                tsih = (ushort)(tsih == ushort.MaxValue ? 1 : tsih + 1); // 0 is reserved (RFC 7143 §11.12.6)
            } while (_byTsih.ContainsKey(tsih));
            _lastTsih = tsih;
            IscsiSession session = create(tsih);
            _byTsih.Add(tsih, session);
            return session;
        }
    }

    public void Remove(IscsiSession session)
    {
        lock (_sync)
        {
            if (_byTsih.TryGetValue(session.Tsih, out IscsiSession? current) && ReferenceEquals(current, session))
                _byTsih.Remove(session.Tsih);
        }
    }

    public IscsiSession? FindByTsih(ushort tsih)
    {
        lock (_sync)
            return _byTsih.GetValueOrDefault(tsih);
    }

    public IscsiSession? FindByInitiatorPort(string initiatorName, ulong isid, string targetName)
    {
        lock (_sync)
        {
            foreach (IscsiSession session in _byTsih.Values)
            {
                if (session.Isid == isid
                    && string.Equals(session.InitiatorName, initiatorName, StringComparison.OrdinalIgnoreCase)
                    && string.Equals(session.Target?.Name, targetName, StringComparison.Ordinal))
                    return session;
            }
            return null;
        }
    }

    public List<IscsiSession> ForTarget(string targetName)
    {
        lock (_sync)
            return _byTsih.Values.Where(s => string.Equals(s.Target?.Name, targetName, StringComparison.Ordinal)).ToList();
    }

    public List<IscsiSession> Snapshot()
    {
        lock (_sync)
            return [.. _byTsih.Values];
    }
}
