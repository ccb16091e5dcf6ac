using Tandem.Iscsi;

namespace Tandem.Node.Devices;

/// <summary>The part of the iSCSI server the device manager needs: who is logged in, and dropping them.</summary>
public interface ISessionRegistry
{
    IReadOnlyList<IscsiSessionInfo> GetSessions();
    void CloseSessions(string targetName);
}

/// <summary>Adapts the running <see cref="IscsiServer"/>.</summary>
internal sealed class IscsiServerSessions(IscsiServer server) : ISessionRegistry
{
    public IReadOnlyList<IscsiSessionInfo> GetSessions() => server.GetSessions();
    public void CloseSessions(string targetName) => server.CloseSessions(targetName);
}

/// <summary>Before the iSCSI server exists (and in tests): nobody is logged in.</summary>
internal sealed class NoSessions : ISessionRegistry
{
    public static NoSessions Instance { get; } = new();
    public IReadOnlyList<IscsiSessionInfo> GetSessions() => [];
    public void CloseSessions(string targetName) { }
}
