using System.CommandLine;
using Tandem.Node.Api.Models;
using Tandem.Node.Devices;
using Tandem.Node.Validation;
using Tandem.Cli.Output;

namespace Tandem.Cli.Commands;

/// <summary>tandem device create | list | show | extend | remove | sync | mark-synchronized | verify</summary>
internal static class DeviceCommands
{
    public static Command Build(GlobalOptions globals, CliContext context)
    {
        var device = new Command("device", "Create, list, extend and remove devices (each is LUN 0 of its own iSCSI target); synchronize and verify their replicas");
        device.Subcommands.Add(Create(globals, context));
        device.Subcommands.Add(List(globals, context));
        device.Subcommands.Add(Show(globals, context));
        device.Subcommands.Add(Extend(globals, context));
        device.Subcommands.Add(Remove(globals, context));
        device.Subcommands.Add(Sync(globals, context));
        device.Subcommands.Add(MarkSynchronized(globals, context));
        device.Subcommands.Add(Verify(globals, context));
        return device;
    }

    private static Command Create(GlobalOptions globals, CliContext context)
    {
        var name = new Option<string>("--name") { Description = "Device name (letters, digits, '.', '_', '-')", Required = true };
        var size = SizeOption.Create("--size", "Device size");
        var type = new Option<string>("--type") { Description = "image (default) or ram" };
        type.AcceptOnlyFromAmong("image", "ram");
        var location = new Option<string?>("--location") { Description = "Folder for the image and its header (must exist; default: <data-dir>/devices)" };
        var provisioning = new Option<string?>("--provisioning") { Description = "thick (default: space allocated now) or thin (sparse)" };
        provisioning.AcceptOnlyFromAmong("thick", "thin");
        var sectorSize = new Option<int?>("--sector-size") { Description = "Logical sector size: 512 (default; ESXi, Xen, KVM) or 4096 (Windows)" };
        sectorSize.AcceptOnlyFromAmong("512", "4096");
        var alias = new Option<string?>("--target-alias") { Description = "Alias in the generated target name <prefix>:<node>-<alias> (default: device name)" };
        var targetName = new Option<string?>("--target-name") { Description = "Full target IQN instead of a generated one" };

        var command = new Command("create", "Create a device and its iSCSI target") { name, size, type, location, provisioning, sectorSize, alias, targetName };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            if (parse.GetValue(alias) is not null && parse.GetValue(targetName) is not null)
                throw new UsageException("give either --target-alias or --target-name, not both");
            var request = new CreateDeviceRequest
            {
                Name = parse.GetValue(name),
                Type = parse.GetValue(type),
                SizeBytes = parse.GetValue(size),
                Location = parse.GetValue(location) is { } l ? Path.GetFullPath(l, context.WorkingDirectory) : null,
                Provisioning = parse.GetValue(provisioning),
                SectorSize = parse.GetValue(sectorSize),
                TargetAlias = parse.GetValue(alias),
                TargetName = parse.GetValue(targetName),
            };
            var result = await api.CreateDeviceAsync(request, ct);
            printer.Print(result, (o, d) =>
            {
                o.WriteLine($"Created device {d.Name}: {Describe(d)}.");
                o.WriteLine($"Target: {d.TargetName} (LUN 0)");
            });
        });
        return command;
    }

    private static Command List(GlobalOptions globals, CliContext context)
    {
        var command = new Command("list", "List devices");
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ListDevicesAsync(ct);
            printer.Print(result, (o, devices) =>
            {
                if (devices.Length == 0)
                {
                    o.WriteLine("No devices. Create one with: tandem device create --name NAME --size 10G");
                    return;
                }

                var table = new Table("NAME", "TYPE", "SIZE", "SECTOR", "PROVISIONING", "STATE", "SESSIONS", "TARGET");
                foreach (var d in devices)
                    table.Add(d.Name, d.Type, SizeParser.Format(d.SizeBytes), d.SectorSize, d.Provisioning, d.State, d.Sessions, d.TargetName);
                table.Write(o);
            });
        });
        return command;
    }

    private static Command Show(GlobalOptions globals, CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Device name" };
        var command = new Command("show", "Show one device") { name };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.GetDeviceAsync(parse.GetValue(name)!, ct);
            printer.Print(result, (o, d) =>
            {
                WriteDetails(o, d);
                if (d.Replication is { } replication)
                {
                    o.WriteLine();
                    ReplicaCommands.WriteSet(o, replication);
                }
            });
        });
        return command;
    }

    private static Command Extend(GlobalOptions globals, CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Device name" };
        var size = SizeOption.Create("--size", "New, larger size");
        var command = new Command("extend", "Grow a device online (initiators are told the capacity changed)") { name, size };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.ExtendDeviceAsync(parse.GetValue(name)!, parse.GetValue(size), ct);
            printer.Print(result, (o, d) => o.WriteLine($"Extended device {d.Name} to {SizeParser.Format(d.SizeBytes)} ({d.SizeBytes} bytes)."));
        });
        return command;
    }

    private static Command Remove(GlobalOptions globals, CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Device name" };
        var deleteImage = new Option<bool>("--delete-image") { Description = "Also delete the image file and its header (default: keep them)" };
        var command = new Command("remove", "Remove a device and its target (keeps the image unless --delete-image)") { name, deleteImage };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var device = parse.GetValue(name)!;
            var delete = parse.GetValue(deleteImage);
            var removed = (await api.GetDeviceAsync(device, ct)).Value;
            await api.RemoveDeviceAsync(device, delete, ct);
            printer.Message(removed.ImagePath is null ? $"Removed device {removed.Name}."
                : delete ? $"Removed device {removed.Name} and deleted {removed.ImagePath} and its header."
                : $"Removed device {removed.Name}; kept {removed.ImagePath} and its header (--delete-image deletes them).");
        });
        return command;
    }

    private static Command Sync(GlobalOptions globals, CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Device name" };
        var full = new Option<bool>("--full") { Description = "Copy every block, not only those changed while a replica was away" };
        var command = new Command("sync", "Start synchronizing the replicas of an HA device (follow it with `replica list`)") { name, full };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var isFull = parse.GetValue(full);
            var result = await api.SyncDeviceAsync(parse.GetValue(name)!, isFull, ct);
            printer.Print(result, (o, set) =>
            {
                o.WriteLine($"Started a {(isFull ? "full" : "fast")} synchronization of device {set.Device}.");
                ReplicaCommands.WriteSet(o, set);
            });
        });
        return command;
    }

    private static Command MarkSynchronized(GlobalOptions globals, CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Device name" };
        var command = new Command("mark-synchronized",
            "Declare the replicas of an HA device synchronized without copying data (only when you know they are identical)") { name };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.MarkSynchronizedAsync(parse.GetValue(name)!, ct);
            printer.Print(result, (o, set) =>
            {
                o.WriteLine($"Marked the replicas of device {set.Device} synchronized; no data was copied.");
                ReplicaCommands.WriteSet(o, set);
            });
        });
        return command;
    }

    private static Command Verify(GlobalOptions globals, CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Device name" };
        var command = new Command("verify",
            $"Compare the data of every replica of an HA device, block by block (reads the whole device; exit code {ExitCodes.DifferencesFound} when they differ)") { name };
        ClientCommand.SetAction(command, globals, context, async (parse, api, printer, ct) =>
        {
            var result = await api.VerifyDeviceAsync(parse.GetValue(name)!, ct);
            printer.Print(result, ReplicaCommands.WriteVerify);
            return result.Value.Identical ? ExitCodes.Success : ExitCodes.DifferencesFound;
        });
        return command;
    }

    private static string Describe(DeviceDto d) =>
        d.Type == "ram"
            ? $"RAM, {SizeParser.Format(d.SizeBytes)}, {d.SectorSize}-byte sectors"
            : $"image, {SizeParser.Format(d.SizeBytes)}, {d.Provisioning}, {d.SectorSize}-byte sectors, {d.ImagePath}";

    private static void WriteDetails(TextWriter o, DeviceDto d) =>
        KeyValues.Write(o,
        [
            ("Name", d.Name),
            ("Type", d.Type),
            ("State", d.Error is null ? d.State : $"{d.State} ({d.Error})"),
            ("Size", $"{SizeParser.Format(d.SizeBytes)} ({d.SizeBytes} bytes)"),
            ("Sector size", d.SectorSize),
            ("Provisioning", d.Provisioning),
            ("Allocated", $"{SizeParser.Format(d.AllocatedBytes)} ({d.AllocatedBytes} bytes)"),
            ("Target", d.TargetName),
            ("Target alias", d.TargetAlias),
            ("NAA", d.Naa),
            ("Serial", d.Serial),
            ("Location", d.Location),
            ("Image", d.ImagePath),
            ("Header", d.HeaderPath),
            ("Sessions", d.Sessions),
        ]);
}
