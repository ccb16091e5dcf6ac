using System.Net;
using Tandem.Node.Errors;

namespace Tandem.Node.Validation;

/// <summary>Source-network entries of target ACLs.</summary>
public static class Networks
{
    /// <summary>
    /// Parses "10.0.0.0/8", "fd00::/8" or a bare address (meaning that single host).
    /// Host bits must be zero: "10.0.0.1/8" is almost always a typo, so we refuse it rather than guess.
    /// </summary>
    public static IPNetwork Parse(string text)
    {
        var s = text?.Trim() ?? "";
        if (!s.Contains('/') && IPAddress.TryParse(s, out var address))
            return new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        // IPNetwork.TryParse masks host bits silently; compare with the address as written.
        if (IPNetwork.TryParse(s, out var network) && IPAddress.TryParse(s[..s.IndexOf('/')], out var written)
            && network.BaseAddress.Equals(written))
            return network;
        throw new TandemException(ErrorCodes.InvalidArgument,
            $"Network '{Names.Printable(text)}' is not valid CIDR notation (e.g. 192.168.10.0/24, with the host bits zero).");
    }
}
