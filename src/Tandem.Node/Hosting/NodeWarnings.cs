using Tandem.Node.Devices;

namespace Tandem.Node.Hosting;

/// <summary>Things the administrator should know about the node's security posture (SPEC §3: default allow-all warns).</summary>
public static class NodeWarnings
{
    public static IReadOnlyList<string> For(DeviceManager devices)
    {
        var warnings = new List<string>();
        foreach (var device in devices.Devices)
        {
            if (device.Error is not null)
                warnings.Add($"Device '{device.Name}' is offline: {device.Error}");
            var target = device.Config.Target;
            if (target.Acl.Initiators.Count == 0 && target.Acl.Networks.Count == 0 && target.Chap is null)
                warnings.Add($"Target {target.Name} accepts every initiator without CHAP; set an ACL or CHAP (tandem acl set / tandem chap set).");
        }

        return warnings;
    }
}
