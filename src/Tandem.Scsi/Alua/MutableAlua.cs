namespace Tandem.Scsi.Alua;

/// <summary>
/// An ALUA provider whose group states can be set at run time (HA device glue and tests).
/// Replaces the whole snapshot on every change, so readers never lock.
/// </summary>
public sealed class MutableAlua : IAluaStateProvider
{
    private volatile TargetPortGroupInfo[] _groups;

    public MutableAlua(params TargetPortGroupInfo[] groups) => _groups = groups;

    public IReadOnlyList<TargetPortGroupInfo> GetTargetPortGroups() => _groups;

    /// <summary>Sets the state of one group; returns false when no group has that id.</summary>
    public bool SetState(ushort groupId, AluaState state)
    {
        lock (this)
        {
            var groups = (TargetPortGroupInfo[])_groups.Clone();
            for (int i = 0; i < groups.Length; i++)
            {
                if (groups[i].Id != groupId)
                    continue;
                groups[i] = groups[i] with { State = state };
                _groups = groups;
                return true;
            }
            return false;
        }
    }
}
