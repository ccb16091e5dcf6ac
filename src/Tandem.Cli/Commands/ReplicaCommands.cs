using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Tandem.Cli.Output;
using Tandem.Node.Api.Models;
using Tandem.Node.Validation;

namespace Tandem.Cli.Commands;

/// <summary>tandem replica add | list | remove: the replica set of an HA device.</summary>
internal static class ReplicaCommands
{
    public const string PartnerPasswordVariable = "TANDEM_PARTNER_PASSWORD";

    /// <summary>A replica set holds this node and at most two partners.</summary>
    private const int MaxPartners = 2;

    /// <summary>Replica ids are 1 to 3.</summary>
    private const int MaxReplicaId = 3;

    /// <summary>Rows of differing ranges `device verify` prints before pointing at --json.</summary>
    private const int MaxDifferenceRows = 50;

    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var replica = new Command("replica", "Make a device highly available: mirror it synchronously on one or two partner nodes");
        replica.Subcommands.Add(Add(globals, context));
        replica.Subcommands.Add(List(globals, context));
        replica.Subcommands.Add(Remove(globals, context));
        return replica;
    }

    private static Argument<string> Device() => new("device") { Description = "Device name" };

    private static Command Add(GlobalOptions globals, CliContext context)
    {
        var device = Device();
        var partners = new Option<string[]>("--partner")
        {
            Description = "Management API of a partner node; give it once for a two-way mirror, twice for three-way",
            HelpName = "HOST:PORT",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        partners.Validators.Add(result =>
        {
            var values = result.GetValueOrDefault<string[]>() ?? [];
            if (values.Length > MaxPartners)
                result.AddError($"--partner: at most {MaxPartners} partners (a replica set has at most three nodes); got {values.Length}.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var value in values)
            {
                if (!EndpointText.TryParse(value, portRequired: true, out var key, out var error))
                    result.AddError($"--partner {error}.");
                else if (!seen.Add(key))
                    result.AddError($"--partner '{value.Trim()}' is given twice.");
            }
        });
        var location = new Option<string?>("--partner-location")
        {
            Description = "Folder on the partners for their image (default: their data directory)",
            HelpName = "DIR",
        };
        var partnerUser = new Option<string?>("--partner-user") { Description = "Administrator of the partner nodes (default admin)", HelpName = "USER" };
        var partnerPassword = new Option<string?>("--partner-password")
        {
            Description = $"Password of that administrator (env {PartnerPasswordVariable})",
            HelpName = "PASS",
        };
        var syncChannels = Channels("--sync-channel",
            "Replication link to a partner (port 3262 by default), matched to the partner by host; repeatable (default: what the partners advertise)");
        var heartbeatChannels = Channels("--heartbeat-channel",
            "Heartbeat link to a partner, matched like --sync-channel; repeatable");
        var init = new Option<string?>("--init")
        {
            Description = "First data of the partners: synchronize (default: copy this device), clear (zero every replica, this one too), none (trust they are already identical)",
        };
        init.AcceptOnlyFromAmong("synchronize", "clear", "none");
        var alua = new Option<string[]>("--alua")
        {
            Description = "ALUA preference of the partners' paths, optimized (default) or non-optimized: once for every partner, or once per partner in --partner order",
            Arity = ArgumentArity.OneOrMore,
        };
        alua.AcceptOnlyFromAmong("optimized", "non-optimized");
        var localAlua = new Option<string?>("--local-alua") { Description = "ALUA preference of this node's paths: optimized (default) or non-optimized" };
        localAlua.AcceptOnlyFromAmong("optimized", "non-optimized");
        var priority = new Option<int[]>("--priority")
        {
            Description = "Failover priority of the partners, 1 (highest) to 255: once for every partner, or once per partner in --partner order (default 2)",
            HelpName = "N",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = result => [.. result.Tokens.Select(t => ParsePriority(result, "--priority", t.Value))],
        };
        var localPriority = new Option<int?>("--local-priority")
        {
            Description = "Failover priority of this node, 1 (highest, the default) to 255",
            HelpName = "N",
            CustomParser = result => ParsePriority(result, "--local-priority", result.Tokens.Count > 0 ? result.Tokens[0].Value : ""),
        };
        var failover = new Option<string?>("--failover")
        {
            Description = "Failover strategy, fixed for the life of the replica set: heartbeat (default) or node-majority",
            HelpName = "STRATEGY",
        };
        failover.AcceptOnlyFromAmong("heartbeat", "node-majority");

        var command = new Command("add", "Mirror a device on one or two partner nodes (creates the partner devices through their APIs)")
            { device, partners, location, partnerUser, partnerPassword, syncChannels, heartbeatChannels, init, alua, localAlua, priority, localPriority, failover };
        command.Validators.Add(result =>
        {
            // Token counts, not values: a value that failed to parse has its own error already.
            int priorities = result.GetResult(priority)?.Tokens.Count ?? 0;
            int partnerCount = result.GetResult(partners)?.Tokens.Count ?? 0;
            if (priorities > 1 && priorities != partnerCount)
                result.AddError($"--priority: give it once for every partner or once per partner ({partnerCount}); got {priorities}.");
            int aluas = result.GetResult(alua)?.Tokens.Count ?? 0;
            if (aluas > 1 && aluas != partnerCount)
                result.AddError($"--alua: give it once for every partner or once per partner ({partnerCount}); got {aluas}.");
        });
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var request = new AddReplicaRequest
            {
                Partners = [.. parse.GetValue(partners)!.Select(p => p.Trim())],
                PartnerLocation = parse.GetValue(location),
                PartnerUser = parse.GetValue(partnerUser),
                PartnerPassword = parse.GetValue(partnerPassword) ?? context.GetEnvironmentVariable(PartnerPasswordVariable),
                SyncChannels = TrimmedOrNull(parse.GetValue(syncChannels)),
                HeartbeatChannels = TrimmedOrNull(parse.GetValue(heartbeatChannels)),
                Init = parse.GetValue(init),
                Alua = parse.GetValue(alua) is [var everyAlua] ? everyAlua : null,
                AluaPerPartner = parse.GetValue(alua) is { Length: > 1 } eachAlua ? eachAlua : null,
                LocalAlua = parse.GetValue(localAlua),
                Priority = parse.GetValue(priority) is [var every] ? every : null,
                Priorities = parse.GetValue(priority) is { Length: > 1 } each ? each : null,
                LocalPriority = parse.GetValue(localPriority),
                Failover = parse.GetValue(failover),
            };
            var result = await api.AddReplicasAsync(parse.GetValue(device)!, request, ct);
            printer.Print(result, (o, set) =>
            {
                var added = request.Partners.Count;
                o.WriteLine($"Added {added} partner{(added == 1 ? "" : "s")} to device {set.Device}.");
                WriteSet(o, set);
                if (set.Nodes.Any(n => n.Sync is not null))
                    o.WriteLine($"Follow the synchronization with: tandem replica list {set.Device}");
            });
        });
        return command;
    }

    private static Command List(GlobalOptions globals, CliContext context)
    {
        var device = Device();
        var command = new Command("list", "Show the replicas of a device: state, ALUA, link, unsynchronized data, sync progress") { device };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.GetReplicasAsync(parse.GetValue(device)!, ct);
            printer.Print(result, WriteSet);
        });
        return command;
    }

    private static Command Remove(GlobalOptions globals, CliContext context)
    {
        var device = Device();
        var partner = new Option<string>("--partner")
        {
            Description = "The partner to drop: its management API as given to `replica add`, or its replica id",
            HelpName = "HOST:PORT|ID",
            Required = true,
        };
        partner.Validators.Add(result =>
        {
            var value = (result.GetValueOrDefault<string>() ?? "").Trim();
            if (value.Length > 0 && value.All(char.IsAsciiDigit))
            {
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id is < 1 or > MaxReplicaId)
                    result.AddError($"--partner '{value}' is not a replica id (1-{MaxReplicaId}).");
            }
            else if (!EndpointText.TryParse(value, portRequired: true, out _, out var error))
            {
                result.AddError($"--partner {error}; give HOST:PORT or a replica id.");
            }
        });
        var command = new Command("remove", "Stop mirroring a device on one partner node") { device, partner };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var removed = parse.GetValue(partner)!.Trim();
            var result = await api.RemoveReplicaAsync(parse.GetValue(device)!, removed, ct);
            printer.Print(result, (o, set) =>
            {
                o.WriteLine($"Removed partner {removed} from device {set.Device}.");
                WriteSet(o, set);
            });
        });
        return command;
    }

    private static int ParsePriority(System.CommandLine.Parsing.ArgumentResult result, string option, string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 255)
            return n;
        result.AddError($"{option} '{text}' is not a priority from 1 (highest) to 255.");
        return 0;
    }

    private static Option<string[]> Channels(string name, string description)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = "ADDR[:PORT]", Arity = ArgumentArity.OneOrMore };
        option.Validators.Add(result =>
        {
            foreach (var value in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (!EndpointText.TryParse(value, portRequired: false, out _, out var error))
                    result.AddError($"{name} {error}.");
            }
        });
        return option;
    }

    private static string[]? TrimmedOrNull(string[]? values) => values is { Length: > 0 } ? [.. values.Select(v => v.Trim())] : null;

    /// <summary>A replica set for humans: "Device X: state", then one row per node (replica list, device show, ...).</summary>
    public static void WriteSet(TextWriter o, ReplicaSetDto set)
    {
        o.WriteLine($"Device {set.Device}: {set.State}");
        var table = new Table("ID", "NODE", "API", "STATE", "ALUA", "PRIO", "LINK", "HEARTBEAT", "DIRTY", "SYNC");
        foreach (var n in set.Nodes.OrderBy(n => n.NodeId))
        {
            table.Add(
                n.NodeId,
                n.Local ? $"{n.NodeName} (local)" : n.NodeName,
                n.Api,
                n.State,
                $"{n.Alua}/{n.AluaState}",
                n.Priority,
                n.Local ? "-" : n.Connected ? "up" : "down",
                n.Local ? "-" : $"{n.HeartbeatsUp} up",
                n.Local ? "-" : SizeParser.Format(n.DirtyBytes),
                FormatSync(n.Sync));
        }

        table.Write(o);
        if (set.Nodes.Count <= 1)
            o.WriteLine($"Not replicated. Mirror it with: tandem replica add {set.Device} --partner HOST:PORT");
        if (set.Failover is { } f)
        {
            string witness = f.Witness is null ? "" : $", {f.Witness} ({(f.HoldsWitnessVote ? "holds its vote" : f.WitnessAnswer ?? "not asked yet")})";
            o.WriteLine($"Failover: {f.Strategy}{witness}; this node {(f.Serving ? "serves I/O" : "does not serve I/O")}{(f.BlockedReason is { } why ? $" ({why})" : "")}.");
            foreach (var warning in f.Warnings)
                o.WriteLine($"Warning: {warning}");
        }
    }

    /// <summary>"fast 42.0% 180 MiB/s ETA 12s (1->2)": kind, progress, rate, time left, source->target replica.</summary>
    private static string FormatSync(SyncProgressDto? s)
    {
        if (s is null)
            return "-";
        var parts = new List<string> { s.Kind, string.Create(CultureInfo.InvariantCulture, $"{s.Percent:0.0}%") };
        if (s.RateBytesPerSecond > 0)
            parts.Add(SizeParser.Format(s.RateBytesPerSecond) + "/s");
        if (s.EtaSeconds is { } eta && double.IsFinite(eta) && eta >= 0)
            parts.Add("ETA " + FormatDuration(eta));
        parts.Add($"({s.SourceNodeId}->{s.TargetNodeId})");
        return string.Join(' ', parts);
    }

    /// <summary>12s, 3m05s, 2h07m.</summary>
    private static string FormatDuration(double seconds)
    {
        var total = (long)Math.Ceiling(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2));
        return total switch
        {
            < 60 => string.Create(CultureInfo.InvariantCulture, $"{total}s"),
            < 3600 => string.Create(CultureInfo.InvariantCulture, $"{total / 60}m{total % 60:00}s"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{total / 3600}h{total / 60 % 60:00}m"),
        };
    }

    /// <summary>`device verify` for humans: one sentence when identical, else the differing ranges.</summary>
    public static void WriteVerify(TextWriter o, VerifyResultDto v)
    {
        var nodes = string.Join(',', v.ComparedNodes);
        if (v.Identical)
        {
            o.WriteLine($"Replicas of {v.Device} are identical ({v.ComparedBytes} bytes compared on nodes {nodes}).");
            return;
        }

        var total = v.Differences.Sum(d => d.LengthBytes);
        var ranges = v.Differences.Count;
        o.WriteLine($"Replicas of {v.Device} differ: {ranges} range{(ranges == 1 ? "" : "s")}, {SizeParser.Format(total)} ({total} bytes); "
                    + $"{v.ComparedBytes} bytes compared on nodes {nodes}.");
        if (ranges > 0)
        {
            var table = new Table("NODE", "OFFSET", "LENGTH");
            foreach (var d in v.Differences.Take(MaxDifferenceRows))
                table.Add(d.NodeId, $"{d.OffsetBytes} ({SizeParser.Format(d.OffsetBytes)})", $"{d.LengthBytes} ({SizeParser.Format(d.LengthBytes)})");
            table.Write(o);
            if (ranges > MaxDifferenceRows)
                o.WriteLine($"... and {ranges - MaxDifferenceRows} more ranges (--json lists them all).");
        }

        o.WriteLine($"A full synchronization copies every block again: tandem device sync {v.Device} --full");
    }
}
