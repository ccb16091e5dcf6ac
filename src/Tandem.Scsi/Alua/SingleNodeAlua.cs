namespace Tandem.Scsi.Alua;

/// <summary>One node, one target port group, always active/optimized.</summary>
public sealed class SingleNodeAlua : IAluaStateProvider
{
    private readonly TargetPortGroupInfo[] _groups;

    public SingleNodeAlua(ushort targetPortGroupId = 1, ushort relativeTargetPortId = 1)
    {
        _groups = [new TargetPortGroupInfo(targetPortGroupId, AluaState.ActiveOptimized, true, [relativeTargetPortId])];
    }

    public IReadOnlyList<TargetPortGroupInfo> GetTargetPortGroups() => _groups;
}
