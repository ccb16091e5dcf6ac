using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tandem.Cli.Commands;

/// <summary>
/// Checks endpoints given on the command line before anything is sent: "HOST:PORT" (port required) and
/// "ADDR[:PORT]". IPv6 addresses go in brackets: [fd00::2]:3261.
/// </summary>
internal static class EndpointText
{
    /// <param name="key">Host and port in a comparable form (case and IP spelling normalized), for duplicate checks.</param>
    public static bool TryParse(string text, bool portRequired, out string key, out string error)
    {
        key = "";
        var s = text.Trim();
        string host;
        string? portText = null;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']');
            if (close < 0)
                return Fail($"'{s}': missing ']' after the IPv6 address", out error);
            host = s[1..close];
            var rest = s[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                    return Fail($"'{s}': expected ':PORT' after ']'", out error);
                portText = rest[1..];
            }

            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
                return Fail($"'{s}': '{host}' in brackets is not an IPv6 address", out error);
        }
        else
        {
            var colons = s.Count(c => c == ':');
            if (colons > 1)
                return Fail($"'{s}': write IPv6 addresses in brackets, e.g. [fd00::2]{(portRequired ? ":3261" : "")}", out error);
            var colon = s.IndexOf(':');
            host = colon < 0 ? s : s[..colon];
            portText = colon < 0 ? null : s[(colon + 1)..];
            if (host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
                return Fail($"'{s}': '{host}' is not a host name or address", out error);
        }

        if (portText is null && portRequired)
            return Fail($"'{s}' has no port (expected HOST:PORT, e.g. 10.0.0.2:3261)", out error);
        var port = 0;
        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > IPEndPoint.MaxPort))
            return Fail($"'{s}': '{portText}' is not a TCP port (1-65535)", out error);

        var normalizedHost = IPAddress.TryParse(host, out var ip) ? ip.ToString() : host.ToLowerInvariant();
        key = portText is null ? normalizedHost : $"{normalizedHost}|{port}";
        error = "";
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }
}
