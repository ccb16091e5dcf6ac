using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tandem.Iscsi.Targets;

namespace Tandem.Iscsi.Discovery;

/// <summary>
/// Answers <c>SendTargets</c> (RFC 7143 §13.3, appendix C): every target the initiator may see, each with
/// a <c>TargetAddress=ip:port,tpgt</c> for every portal the server listens on.
/// </summary>
internal static class SendTargetsResponder
{
    /// <param name="value">"All", a target name, or empty (the session's own target).</param>
    /// <param name="sessionTarget">Target of a normal session; null in a discovery session.</param>
    public static List<KeyValuePair<string, string>> Answer(
        string value,
        ITargetCatalog catalog,
        string initiatorName,
        IPAddress remoteAddress,
        IPEndPoint localEndPoint,
        IReadOnlyList<IPEndPoint> portals,
        ushort portalGroupTag,
        string? sessionTarget)
    {
        var result = new List<KeyValuePair<string, string>>();
        IEnumerable<IscsiTargetDefinition> targets;
        if (value == "All")
        {
            if (sessionTarget is not null)
                targets = catalog.TryGetTarget(sessionTarget, out var own) ? [own] : [];
            else
                targets = catalog.Targets.OrderBy(t => t.Name, StringComparer.Ordinal);
        }
        else if (value.Length == 0)
        {
            targets = sessionTarget is not null && catalog.TryGetTarget(sessionTarget, out var own) ? [own] : [];
        }
        else
        {
            targets = catalog.TryGetTarget(value, out var named) ? [named] : [];
        }

        foreach (IscsiTargetDefinition target in targets)
        {
            if (!TargetAccess.IsAllowed(target.Access, initiatorName, remoteAddress))
                continue;
            result.Add(new("TargetName", target.Name));
            foreach (string address in PortalAddresses(localEndPoint, portals))
                result.Add(new("TargetAddress", $"{address},{portalGroupTag.ToString(CultureInfo.InvariantCulture)}"));
        }
        return result;
    }

    /// <summary>Portals as "ip:port"; a portal bound to Any is reported with the connection's local address.</summary>
    public static IEnumerable<string> PortalAddresses(IPEndPoint localEndPoint, IReadOnlyList<IPEndPoint> portals)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (IPEndPoint portal in portals)
        {
            IPAddress address = portal.Address;
            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
                address = localEndPoint.Address;
            if (address.IsIPv4MappedToIPv6)
                address = address.MapToIPv4();
            string text = address.AddressFamily == AddressFamily.InterNetworkV6
                ? $"[{address}]:{portal.Port.ToString(CultureInfo.InvariantCulture)}"
                : $"{address}:{portal.Port.ToString(CultureInfo.InvariantCulture)}";
            if (seen.Add(text))
                yield return text;
        }
    }
}
