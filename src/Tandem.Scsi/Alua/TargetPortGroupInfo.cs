namespace Tandem.Scsi.Alua;

/// <summary>One target port group as REPORT TARGET PORT GROUPS describes it.</summary>
/// <param name="Id">Target port group identifier (one per node).</param>
/// <param name="State">Its asymmetric access state.</param>
/// <param name="Preferred">PREF bit: the group the initiator should prefer among equals.</param>
/// <param name="RelativeTargetPortIds">Relative target port identifiers in the group.</param>
public sealed record TargetPortGroupInfo(ushort Id, AluaState State, bool Preferred, IReadOnlyList<ushort> RelativeTargetPortIds);
