using System.Net;
using Tandem.Node.Api.Models;
using Tandem.Node.Config;
using Tandem.Node.Errors;
using Tandem.Node.Validation;
using Tandem.Replication;

namespace Tandem.Node.HighAvailability;

/// <summary>An <see cref="AddReplicaRequest"/>, checked and with its defaults applied.</summary>
internal sealed record ReplicaPlan(
    IReadOnlyList<string> Partners,
    string PartnerUser,
    string? PartnerPassword,
    string? PartnerLocation,
    IReadOnlyList<string> SyncChannels,
    IReadOnlyList<string> HeartbeatChannels,
    string Init,
    bool Optimized,
    int Priority)
{
    public static ReplicaPlan From(AddReplicaRequest request)
    {
        var partners = (request.Partners ?? []).Select(p => p?.Trim() ?? "").ToArray();
        if (partners.Length is < 1 or > 2)
            throw TandemException.Invalid("Give one partner (two-way) or two partners (three-way) as HOST:PORT of their management API.");
        foreach (var partner in partners)
        {
            if (!TrySplit(partner, out _, out int port) || port == 0)
                throw TandemException.Invalid($"Partner '{Names.Printable(partner)}' is not HOST:PORT.");
        }
        if (partners.Distinct(StringComparer.OrdinalIgnoreCase).Count() != partners.Length)
            throw TandemException.Invalid("The same partner is given twice.");
        string init = (request.Init ?? "synchronize").ToLowerInvariant();
        if (init is not ("synchronize" or "clear" or "none"))
            throw TandemException.Invalid($"Init '{Names.Printable(request.Init)}' is unknown; use synchronize, clear or none.");
        bool optimized = (request.Alua ?? "optimized").ToLowerInvariant() switch
        {
            "optimized" => true,
            "non-optimized" => false,
            _ => throw TandemException.Invalid($"ALUA '{Names.Printable(request.Alua)}' is unknown; use optimized or non-optimized."),
        };
        int priority = request.Priority ?? 2;
        if (priority is < 1 or > 255)
            throw TandemException.Invalid($"Priority {priority} is not 1-255.");
        var sync = Channels(request.SyncChannels, "sync channel");
        var heartbeat = Channels(request.HeartbeatChannels, "heartbeat channel");
        CheckPlacement(partners, sync, "--sync-channel");
        CheckPlacement(partners, heartbeat, "--heartbeat-channel");
        return new ReplicaPlan(partners, string.IsNullOrEmpty(request.PartnerUser) ? AdminSecret.UserName : request.PartnerUser,
            request.PartnerPassword, request.PartnerLocation, sync, heartbeat, init, optimized, priority);
    }

    /// <summary>
    /// The channels of one partner, else what it advertises (an advertised wildcard address
    /// becomes the partner's API host). With one partner every channel given is its own. With
    /// two, a channel on a partner's API host is that partner's; the others (a separate
    /// synchronization network) go, in the order given, to the partners that have none on their
    /// API host, in <c>--partner</c> order.
    /// </summary>
    public IReadOnlyList<string> ChannelsFor(string partner, IReadOnlyList<string> given, IReadOnlyList<string> advertised)
    {
        TrySplit(partner, out string host, out _);
        List<string> mine;
        if (Partners.Count == 1)
        {
            mine = [.. given];
        }
        else
        {
            mine = given.Where(c => HostOf(c) == HostOf(partner)).ToList();
            var unplaced = given.Where(c => !Partners.Any(p => HostOf(p) == HostOf(c))).ToList();
            var waiting = Partners.Where(p => !given.Any(c => HostOf(c) == HostOf(p))).ToList();
            int index = waiting.FindIndex(p => string.Equals(p, partner, StringComparison.OrdinalIgnoreCase));
            if (mine.Count == 0 && index >= 0 && unplaced.Count == waiting.Count)
                mine = [unplaced[index]];
        }
        var channels = mine.Count > 0 ? mine : advertised.ToList();
        return channels.Select(c =>
        {
            TrySplit(c, out string h, out int port);
            if (port == 0)
                port = ReplicaLimits.DefaultReplicationPort;
            if (h is "0.0.0.0" or "::" or "[::]")
                h = host;
            return IPAddress.TryParse(h.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, port).ToString() : $"{h}:{port}";
        }).ToArray();
    }

    /// <summary>With two partners, every channel must be attributable to one of them (see <see cref="ChannelsFor"/>).</summary>
    private static void CheckPlacement(IReadOnlyList<string> partners, IReadOnlyList<string> channels, string option)
    {
        if (partners.Count < 2)
            return;
        var unplaced = channels.Where(c => !partners.Any(p => HostOf(p) == HostOf(c))).ToList();
        int waiting = partners.Count(p => !channels.Any(c => HostOf(c) == HostOf(p)));
        if (unplaced.Count > 0 && unplaced.Count != waiting)
            throw TandemException.Invalid(
                $"Cannot tell which partner {option} {Names.Printable(unplaced[0])} belongs to: give one {option} per partner, in --partner order " +
                "(or addresses on the partners' API hosts).");
    }

    private static string HostOf(string endpoint)
    {
        TrySplit(endpoint, out string host, out _);
        return host.Trim('[', ']').ToLowerInvariant();
    }

    private static IReadOnlyList<string> Channels(IReadOnlyList<string>? channels, string what)
    {
        var result = (channels ?? []).Select(c => c?.Trim() ?? "").ToArray();
        foreach (var channel in result)
        {
            if (!TrySplit(channel, out string host, out _) || !IPAddress.TryParse(host.Trim('[', ']'), out _))
                throw TandemException.Invalid($"The {what} '{Names.Printable(channel)}' is not ADDR[:PORT] with an IP address.");
        }
        return result;
    }

    /// <summary>Splits HOST[:PORT] (IPv6 in brackets); port 0 when absent.</summary>
    private static bool TrySplit(string text, out string host, out int port)
    {
        host = text;
        port = 0;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        int colon = text.LastIndexOf(':');
        bool bracketed = text.StartsWith('[');
        if (colon > 0 && (!bracketed || text.LastIndexOf(']') < colon))
        {
            if (!int.TryParse(text[(colon + 1)..], out port) || port is < 1 or > 65535)
                return false;
            host = text[..colon];
        }
        if (bracketed && !host.EndsWith(']'))
            return false;
        return host.Length > 0 && !host.Contains(' ') && (bracketed || !host.Contains(':'));
    }
}
