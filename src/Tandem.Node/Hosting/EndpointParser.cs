using System.Globalization;
using System.Net;
using Tandem.Node.Errors;
using Tandem.Node.Validation;

namespace Tandem.Node.Hosting;

/// <summary>Parses "ADDR:PORT" as given on the command line (IPv6 as "[::1]:3260").</summary>
public static class EndpointParser
{
    /// <summary>An IP address and port to listen on; port 0 asks the OS for a free port (tests).</summary>
    public static IPEndPoint ParseListen(string text, string option)
    {
        var (host, port) = Split(text, option);
        if (!IPAddress.TryParse(host, out var address))
            throw TandemException.Invalid($"{option} '{Names.Printable(text)}': '{Names.Printable(host)}' is not an IP address (use e.g. 0.0.0.0:3260 or [::1]:3260).");
        return new IPEndPoint(address, port);
    }

    /// <summary>Host (name or address) and port of a server to connect to.</summary>
    public static (string Host, int Port) ParseHostPort(string text, string option)
    {
        var (host, port) = Split(text, option);
        if (host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
            throw TandemException.Invalid($"{option} '{Names.Printable(text)}': '{Names.Printable(host)}' is not a host name or address.");
        if (port == 0)
            throw TandemException.Invalid($"{option} '{Names.Printable(text)}': port 0 is not a server port.");
        return (host, port);
    }

    /// <summary>"1.2.3.4:5", "[fe80::1]:5", "host:5".</summary>
    private static (string Host, int Port) Split(string text, string option)
    {
        var s = text?.Trim() ?? "";
        int colon;
        string host;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']');
            if (close < 0 || close + 1 >= s.Length || s[close + 1] != ':')
                throw Bad();
            host = s[1..close];
            colon = close + 1;
        }
        else
        {
            colon = s.LastIndexOf(':');
            if (colon <= 0 || s.IndexOf(':') != colon)
                throw Bad();
            host = s[..colon];
        }

        var portText = s[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
            throw TandemException.Invalid($"{option} '{Names.Printable(text)}': '{Names.Printable(portText)}' is not a TCP port (0-65535).");
        return (host, port);

        TandemException Bad() => TandemException.Invalid(
            $"{option} '{Names.Printable(text)}' is not ADDRESS:PORT (e.g. 127.0.0.1:3260, or [::1]:3260 for IPv6).");
    }

    public static string Format(IPEndPoint endPoint) => endPoint.ToString();
}
