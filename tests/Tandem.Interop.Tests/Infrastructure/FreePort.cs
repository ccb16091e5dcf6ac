using System.Net;
using System.Net.Sockets;

namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>Finds TCP ports nobody listens on, so parallel tests never collide.</summary>
public static class FreePort
{
    public static int On(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A port free on every one of <paramref name="addresses"/> (a node listens on all of them).</summary>
    public static int OnAll(params IPAddress[] addresses)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = On(addresses[0]);
            if (addresses.Skip(1).All(a => IsFree(a, port)))
                return port;
        }
        throw new InvalidOperationException("no common free port found");
    }

    private static bool IsFree(IPAddress address, int port)
    {
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
