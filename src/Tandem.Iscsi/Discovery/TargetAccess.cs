using System.Net;
using Tandem.Iscsi.Targets;

namespace Tandem.Iscsi.Discovery;

/// <summary>Who may see and log in to a target: its initiator allow-list and network allow-list.</summary>
internal static class TargetAccess
{
    public static bool IsAllowed(TargetAccessPolicy policy, string initiatorName, IPAddress remoteAddress)
    {
        if (policy.AllowedInitiators.Count > 0)
        {
            // RFC 7143 §4.2.7.2: iSCSI names are case-insensitive (normalized to lower case).
            bool listed = false;
            foreach (string allowed in policy.AllowedInitiators)
            {
                if (string.Equals(allowed, initiatorName, StringComparison.OrdinalIgnoreCase)) { listed = true; break; }
            }
            if (!listed)
                return false;
        }
        if (policy.AllowedNetworks.Count > 0)
        {
            IPAddress address = remoteAddress.IsIPv4MappedToIPv6 ? remoteAddress.MapToIPv4() : remoteAddress;
            bool inside = false;
            foreach (IPNetwork network in policy.AllowedNetworks)
            {
                if (network.Contains(address)) { inside = true; break; }
            }
            if (!inside)
                return false;
        }
        return true;
    }
}
