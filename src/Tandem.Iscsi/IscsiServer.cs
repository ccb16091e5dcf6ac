using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Iscsi.Connections;
using Tandem.Iscsi.Login;
using Tandem.Iscsi.Sessions;
using Tandem.Iscsi.Targets;

namespace Tandem.Iscsi;

/// <summary>
/// The iSCSI target (RFC 7143): listens on one or more portals, logs initiators in, and hands their SCSI
/// commands to the targets of an <see cref="ITargetCatalog"/>.
/// </summary>
public sealed class IscsiServer : IAsyncDisposable
{
    /// <summary>Implementation limit: pending connections per listening socket.</summary>
    private const int ListenBacklog = 128;

    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<IscsiConnection, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<IPEndPoint> _boundPortals = [];
    private int _started;

    public IscsiServer(ITargetCatalog catalog, IscsiServerOptions options, ILoggerFactory? loggerFactory = null)
    {
        Catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<IscsiServer>();
    }

    internal ITargetCatalog Catalog { get; }
    internal IscsiServerOptions Options { get; }
    internal SessionRegistry Registry { get; } = new();
    internal ChapChallengeHistory Challenges { get; } = new();

    /// <summary>The portals listened on, with ephemeral ports resolved.</summary>
    public IReadOnlyList<IPEndPoint> BoundPortals => _boundPortals;

    /// <summary>Binds every portal and starts accepting. Throws naming the address when a bind fails.</summary>
    public Task StartAsync(IEnumerable<IPEndPoint> portals, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(portals);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the iSCSI server is already started");
        var bound = new List<IPEndPoint>();
        try
        {
            foreach (IPEndPoint portal in portals)
            {
                ct.ThrowIfCancellationRequested();
                var listener = new Socket(portal.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    if (portal.AddressFamily == AddressFamily.InterNetworkV6)
                        listener.DualMode = false; // [::] and 0.0.0.0 may both be portals
                    listener.Bind(portal);
                    listener.Listen(ListenBacklog);
                }
                catch (SocketException ex)
                {
                    listener.Dispose();
                    throw new InvalidOperationException($"cannot listen for iSCSI on {portal}: {ex.Message}", ex);
                }
                _listeners.Add(listener);
                bound.Add((IPEndPoint)listener.LocalEndPoint!);
            }
        }
        catch
        {
            foreach (Socket listener in _listeners)
                listener.Dispose();
            _listeners.Clear();
            throw;
        }
        _boundPortals = bound;
        foreach (Socket listener in _listeners)
            _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(listener)));
        foreach (IPEndPoint endPoint in bound)
            _logger.LogInformation("iSCSI portal listening on {EndPoint}", endPoint);
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                _logger.LogDebug("accept failed: {Message}", ex.Message);
                continue;
            }
            try
            {
                socket.NoDelay = true;
                StartConnection(new SocketTransport(socket));
            }
            catch (Exception ex)
            {
                _logger.LogDebug(ex, "could not start a connection");
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs a connection over <paramref name="transport"/> until it ends; <see cref="StopAsync"/> drops it.
    /// Internal so benchmarks and tests can run the real connection code over an in-memory transport.
    /// </summary>
    internal void StartConnection(IIscsiTransport transport)
    {
        var connection = new IscsiConnection(this, transport, _loggerFactory.CreateLogger<IscsiConnection>());
        _logger.LogDebug("connection from {Remote} to {Local}", connection.RemoteEndPoint, connection.LocalEndPoint);
        // Registered before it runs, so a connection that ends at once cannot leave a stale entry behind.
        var started = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connections[connection] = started.Task.Unwrap();
        started.SetResult(transport.Run(connection.RunAsync));
    }

    internal void OnConnectionEnded(IscsiConnection connection) => _connections.TryRemove(connection, out _);

    /// <summary>Stops listening, drops every connection, and waits for them to end.</summary>
    public async Task StopAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        _stopping.Cancel();
        foreach (Socket listener in _listeners)
        {
            try { listener.Dispose(); } catch (Exception) { }
        }
        try { await Task.WhenAll(_acceptLoops).ConfigureAwait(false); } catch (Exception) { }
        foreach (IscsiConnection connection in _connections.Keys)
            connection.Abort();
        Task all = Task.WhenAll(_connections.Values);
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(15))).ConfigureAwait(false) != all)
            _logger.LogWarning("some iSCSI connections did not end within 15 s of stop");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Normal sessions (discovery sessions are not listed).</summary>
    public IReadOnlyList<IscsiSessionInfo> GetSessions()
    {
        var result = new List<IscsiSessionInfo>();
        foreach (IscsiSession session in Registry.Snapshot())
        {
            if (session.IsDiscovery || session.IsClosed)
                continue;
            IscsiConnection? connection = session.Connection;
            var connections = connection is null
                ? (IReadOnlyList<IscsiConnectionInfo>)[]
                : [new IscsiConnectionInfo(connection.Cid, connection.LocalEndPoint.ToString(), connection.RemoteEndPoint.ToString())];
            SessionParameters parameters = connection?.Parameters ?? session.Parameters;
            result.Add(new IscsiSessionInfo(
                session.Target!.Name, session.InitiatorName, session.Isid.ToString("x12", System.Globalization.CultureInfo.InvariantCulture),
                session.Tsih, parameters.HeaderDigest, parameters.DataDigest, session.LoggedInAt, connections));
        }
        return result;
    }

    /// <summary>Drops every session of a target (it was removed, or a cold reset was requested).</summary>
    public void CloseSessions(string targetName)
    {
        foreach (IscsiSession session in Registry.ForTarget(targetName))
        {
            session.Connection?.Abort();
            _ = session.TerminateAsync();
        }
    }
}
