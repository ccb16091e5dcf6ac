using System.Net;
using System.Net.Sockets;

namespace Tandem.Replication.Tests.Replicas;

/// <summary>
/// A TCP relay in front of a replica's replication listener (127.0.0.1, its own port): lets a test
/// cut the link between two nodes (every relayed connection is closed and new ones are refused)
/// and heal it again, with real sockets and no network namespaces.
/// </summary>
internal sealed class LinkCutter : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];
    private readonly Task _accepting;
    private volatile bool _cut;

    public LinkCutter(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Closes every relayed connection and refuses new ones until <see cref="Heal"/>.</summary>
    public void Cut()
    {
        _cut = true;
        lock (_open)
        {
            foreach (var socket in _open)
                socket.Dispose();
            _open.Clear();
        }
    }

    public void Heal() => _cut = false;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            if (_cut)
            {
                client.Dispose();
                continue;
            }
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
            }
            catch (Exception)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }
            client.NoDelay = true;
            lock (_open)
            {
                _open.Add(client);
                _open.Add(server);
            }
            _ = PumpAsync(client, server);
            _ = PumpAsync(server, client);
        }
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer);
                if (n == 0)
                    break;
                await to.SendAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception)
        {
            // Cut or closed.
        }
        from.Dispose();
        to.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Cut();
        try
        {
            await _accepting;
        }
        catch (Exception)
        {
        }
        _stop.Dispose();
    }
}
