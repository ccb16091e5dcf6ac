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
    IReadOnlyList<IReadOnlyList<string>> SyncChannels,
    IReadOnlyList<IReadOnlyList<string>> HeartbeatChannels,
    string Init,
    IReadOnlyList<bool> Optimized,
    IReadOnlyList<int> Priorities,
    int LocalPriority,
    bool LocalOptimized,
    string Failover)
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
        if (request.Alua is not null && request.AluaPerPartner is not null)
            throw TandemException.Invalid("Give alua (every partner) or aluaPerPartner (one per partner), not both.");
        var optimized = request.AluaPerPartner?.Select(Alua).ToArray() ?? Enumerable.Repeat(Alua(request.Alua), partners.Length).ToArray();
        if (optimized.Length != partners.Length)
            throw TandemException.Invalid($"Give one ALUA preference per partner: {partners.Length} partner(s), {optimized.Length} given.");
        bool localOptimized = Alua(request.LocalAlua);
        if (request.Priority is not null && request.Priorities is not null)
            throw TandemException.Invalid("Give priority (every partner) or priorities (one per partner), not both.");
        var priorities = request.Priorities?.ToArray() ?? Enumerable.Repeat(request.Priority ?? 2, partners.Length).ToArray();
        if (priorities.Length != partners.Length)
            throw TandemException.Invalid($"Give one priority per partner: {partners.Length} partner(s), {priorities.Length} priorities.");
        int localPriority = request.LocalPriority ?? 1;
        foreach (int priority in priorities.Append(localPriority))
        {
            if (priority is < 1 or > 255)
                throw TandemException.Invalid($"Priority {priority} is not 1-255.");
        }
        string failover = (request.Failover ?? Storage.ReplicationHeader.HeartbeatFailover).ToLowerInvariant();
        if (failover is not (Storage.ReplicationHeader.HeartbeatFailover or Storage.ReplicationHeader.NodeMajorityFailover))
            throw TandemException.Invalid($"Failover '{Names.Printable(request.Failover)}' is unknown; use heartbeat or node-majority.");
        var sync = Place(partners, Channels(request.SyncChannels, "sync channel"), "--sync-channel");
        var heartbeat = Place(partners, Channels(request.HeartbeatChannels, "heartbeat channel"), "--heartbeat-channel");
        return new ReplicaPlan(partners, string.IsNullOrEmpty(request.PartnerUser) ? AdminSecret.UserName : request.PartnerUser,
            request.PartnerPassword, request.PartnerLocation, sync, heartbeat, init, optimized, priorities, localPriority, localOptimized, failover);
    }

    private static bool Alua(string? text) => (text ?? "optimized").ToLowerInvariant() switch
    {
        "optimized" => true,
        "non-optimized" => false,
        _ => throw TandemException.Invalid($"ALUA '{Names.Printable(text)}' is unknown; use optimized or non-optimized."),
    };

    /// <summary>
    /// The channels given for one partner (<paramref name="placed"/>, from <see cref="Place"/>), else
    /// what it advertises (an advertised wildcard address becomes the partner's API host).
    /// </summary>
    public IReadOnlyList<string> ChannelsFor(string partner, IReadOnlyList<IReadOnlyList<string>> placed, IReadOnlyList<string> advertised)
    {
        TrySplit(partner, out string host, out _);
        int index = Partners.ToList().FindIndex(p => string.Equals(p, partner, StringComparison.OrdinalIgnoreCase));
        var channels = index >= 0 && placed[index].Count > 0 ? placed[index] : advertised;
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

    /// <summary>
    /// Which partner each channel given belongs to, per partner in <c>--partner</c> order. With one
    /// partner every channel is its own. With two, a channel on a partner's API host is that
    /// partner's; the others (a separate synchronization network) go, in the order given, to the
    /// partners that have none on their API host; a channel that fits no partner is refused.
    /// </summary>
    private static IReadOnlyList<string>[] Place(IReadOnlyList<string> partners, IReadOnlyList<string> channels, string option)
    {
        if (partners.Count == 1)
            return [channels];
        var placed = partners.Select(p => (IReadOnlyList<string>)channels.Where(c => HostOf(c) == HostOf(p)).ToList()).ToArray();
        var unplaced = channels.Where(c => !partners.Any(p => HostOf(p) == HostOf(c))).ToList();
        var waiting = Enumerable.Range(0, partners.Count).Where(i => placed[i].Count == 0).ToList();
        if (unplaced.Count == 0)
            return placed;
        if (unplaced.Count != waiting.Count)
            throw TandemException.Invalid(
                $"Cannot tell which partner {option} {Names.Printable(unplaced[0])} belongs to: give one {option} per partner, in --partner order " +
                "(or addresses on the partners' API hosts).");
        for (int i = 0; i < waiting.Count; i++)
            placed[waiting[i]] = [unplaced[i]];
        return placed;
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
