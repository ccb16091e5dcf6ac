using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tandem.Replication.Replicas;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Links;

/// <summary>
/// The node's replication port (3262 by default): accepts links from partners and hands each to
/// the HA device its Hello names, which authenticates it. A bad or unknown dialer is refused and
/// logged; the listener keeps serving.
/// </summary>
public sealed class ReplicationListener : IAsyncDisposable
{
    private readonly Func<byte[], ReplicatedDevice?> _findDevice;
    private readonly ILogger _log;
    private readonly LinkTimings _timings;
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stop = new();

    /// <param name="findDevice">Finds an HA device by its 16-byte NAA identifier.</param>
    public ReplicationListener(IEnumerable<IPEndPoint> endpoints, Func<byte[], ReplicatedDevice?> findDevice, ILogger log, LinkTimings? timings = null)
    {
        _findDevice = findDevice;
        _log = log;
        _timings = timings ?? LinkTimings.Default;
        try
        {
            foreach (var endpoint in endpoints)
            {
                var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _sockets.Add(socket);
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
                    socket.DualMode = false;
                try
                {
                    socket.Bind(endpoint);
                    socket.Listen(64);
                }
                catch (SocketException e)
                {
                    throw new InvalidOperationException($"cannot listen for replication on {endpoint}: {e.Message}", e);
                }
            }
        }
        catch
        {
            foreach (var socket in _sockets)
                socket.Dispose();
            throw;
        }
    }

    public IReadOnlyList<IPEndPoint> Endpoints => _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!).ToArray();

    public void Start()
    {
        foreach (var socket in _sockets)
            _loops.Add(Task.Run(() => AcceptLoopAsync(socket)));
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.LogWarning("Replication listener: accept failed: {Error}", e.Message);
                continue;
            }
            _ = Task.Run(() => Handshake(socket));
        }
    }

    /// <summary>Synchronous on purpose, like the whole life of a link's socket (see <see cref="Links.Handshake"/>).</summary>
    private void Handshake(Socket socket)
    {
        socket.NoDelay = true;
        var stream = new NetworkStream(socket, ownsSocket: true);
        EndPoint? remote = socket.RemoteEndPoint;
        int timeout = (int)_timings.HandshakeTimeout.TotalMilliseconds;
        try
        {
            var reader = new FrameReader(stream, 4096);
            Hello hello = Links.Handshake.ReadHello(reader, timeout);
            ReplicatedDevice? device = _findDevice(hello.DeviceNaa);
            if (device is null)
            {
                Links.Handshake.TryReject(stream, "no HA device with that identifier on this node");
                throw new ReplicationRejectedException($"no HA device {Convert.ToHexStringLower(hello.DeviceNaa)} here");
            }
            device.Accept(stream, reader, hello, timeout);
        }
        catch (Exception e) when (e is ReplicationRejectedException or IOException or InvalidDataException or TimeoutException
            or EndOfStreamException or SocketException or ObjectDisposedException)
        {
            _log.LogWarning("Replication listener: refused a link from {Remote}: {Reason}", remote, e.Message);
            stream.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        foreach (var socket in _sockets)
            socket.Dispose();
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _stop.Dispose();
    }
}
