namespace Tandem.Scsi.Alua;

/// <summary>
/// Source of the ALUA target port groups of a logical unit. A single node has one group that is
/// always active/optimized; an HA device reports one group per node whose state follows the
/// replication state. When states change, call <see cref="LogicalUnits.ScsiLogicalUnit.NotifyAsymmetricAccessStateChanged"/>.
/// </summary>
public interface IAluaStateProvider
{
    /// <summary>Current groups; called on the command path, so it must be cheap and thread-safe.</summary>
    IReadOnlyList<TargetPortGroupInfo> GetTargetPortGroups();
}
