using Tandem.Scsi.Transport;
using System.Buffers.Binary;
using Tandem.Scsi.Alua;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class UnitAttentionAndAluaTests
{
    [Fact]
    public async Task A_new_nexus_starts_without_a_unit_attention()
    {
        await using var h = new ScsiHarness();
        var c = new ITNexus(A.InitiatorName, 99, A.TargetName, A.PortalGroupTag, A.RelativeTargetPortId, A.TargetPortGroupId);
        h.Target.NexusCreated(c);
        (await h.RunAsync(TestUnitReady, nexus: c)).Good();
    }

    [Fact]
    public async Task Capacity_change_is_reported_once_per_nexus_and_inquiry_does_not_consume_it()
    {
        await using var h = new ScsiHarness();
        await h.Device.ResizeAsync(4096);
        h.Unit.NotifyCapacityChanged();
        (await h.RunAsync(Inquiry(), dataIn: 96)).Good();
        (await h.RunAsync(ReportLuns(), dataIn: 64)).Good();
        (await h.RunAsync(Read10(0, 1), dataIn: 512)).Check(SenseCodes.CapacityDataHasChanged);
        (await h.RunAsync(Read10(0, 1), dataIn: 512)).Good();
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.CapacityDataHasChanged);
        var rc = (await h.RunAsync([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataIn: 8)).Good().Data;
        Assert.Equal(4095u, BinaryPrimitives.ReadUInt32BigEndian(rc));
    }

    [Fact]
    public async Task Unit_attention_takes_precedence_over_an_invalid_opcode()
    {
        await using var h = new ScsiHarness();
        h.Unit.NotifyCapacityChanged();
        (await h.RunAsync([0xC5, 0, 0, 0, 0, 0])).Check(SenseCodes.CapacityDataHasChanged);
        (await h.RunAsync([0xC5, 0, 0, 0, 0, 0])).Check(SenseCodes.InvalidCommandOperationCode);
    }

    [Fact]
    public async Task Request_sense_returns_and_clears_the_pending_unit_attention()
    {
        await using var h = new ScsiHarness();
        h.Unit.NotifyCapacityChanged();
        var data = (await h.RunAsync(RequestSense(), dataIn: 18)).Good().Data;
        Assert.Equal(SenseCodes.CapacityDataHasChanged, SenseData.Parse(data));
        (await h.RunAsync(TestUnitReady)).Good();
        Assert.Equal(SenseCodes.NoSense, SenseData.Parse((await h.RunAsync(RequestSense(), dataIn: 18)).Good().Data));
    }

    [Fact]
    public async Task Unit_attentions_are_reported_in_order()
    {
        await using var h = new ScsiHarness();
        h.Unit.NotifyCapacityChanged();
        h.Unit.NotifyAsymmetricAccessStateChanged();
        (await h.RunAsync(TestUnitReady)).Check(SenseCodes.CapacityDataHasChanged);
        (await h.RunAsync(TestUnitReady)).Check(SenseCodes.AsymmetricAccessStateChanged);
        (await h.RunAsync(TestUnitReady)).Good();
    }

    [Fact]
    public async Task Logical_unit_reset_reports_power_on_reset_to_every_nexus_and_supersedes_older_ones()
    {
        await using var h = new ScsiHarness();
        h.Unit.NotifyCapacityChanged();
        await h.Target.LogicalUnitResetAsync(0, A);
        (await h.RunAsync(TestUnitReady, nexus: A)).Check(SenseCodes.PowerOnResetOccurred);
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.PowerOnResetOccurred);
        (await h.RunAsync(TestUnitReady, nexus: B)).Good();
    }

    [Fact]
    public async Task Target_reset_spares_the_requester_and_clear_task_set_tells_the_victim()
    {
        await using var h = new ScsiHarness();
        await h.Target.TargetResetAsync(A);
        (await h.RunAsync(TestUnitReady, nexus: A)).Good();
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.PowerOnResetOccurred);
        h.Target.TasksClearedByAnotherInitiator(0, A, B);
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.CommandsClearedByAnotherInitiator);
        (await h.RunAsync(TestUnitReady, nexus: A)).Good();
    }

    [Fact]
    public async Task Lost_nexus_forgets_its_unit_attentions()
    {
        await using var h = new ScsiHarness();
        h.Unit.NotifyCapacityChanged();
        h.Target.NexusLost(B);
        h.Target.NexusCreated(B);
        (await h.RunAsync(TestUnitReady, nexus: B)).Good();
    }

    [Theory]
    [InlineData(AluaState.Unavailable, 0x0C)]
    [InlineData(AluaState.Transitioning, 0x0A)]
    [InlineData(AluaState.Standby, 0x0B)]
    [InlineData(AluaState.Offline, 0x0C)]
    public async Task Inaccessible_port_group_refuses_media_access_with_not_ready(AluaState state, byte ascq)
    {
        var alua = AluaGroups.TwoNodes();
        await using var h = new ScsiHarness(options: new LogicalUnitOptions { Alua = alua });
        var viaNode2 = A.WithTargetPort(relativeTargetPortId: 2, targetPortGroupId: 2);
        h.Target.NexusCreated(viaNode2);
        Assert.True(alua.SetState(2, state));
        var expected = new SenseCode(SenseKey.NotReady, 0x04, ascq);
        (await h.RunAsync(Read10(0, 1), dataIn: 512, nexus: viaNode2)).Check(expected);
        (await h.RunAsync(TestUnitReady, nexus: viaNode2)).Check(expected);
        (await h.RunAsync(Inquiry(), dataIn: 96, nexus: viaNode2)).Good();
        (await h.RunAsync(ReportLuns(), dataIn: 64, nexus: viaNode2)).Good();
        Assert.Equal(expected, SenseData.Parse((await h.RunAsync(RequestSense(), dataIn: 18, nexus: viaNode2)).Good().Data));
        // The other node's port keeps serving.
        (await h.RunAsync(Read10(0, 1), dataIn: 512, nexus: A)).Good();
    }

    [Fact]
    public async Task Report_target_port_groups_lists_states_and_ports_and_state_changes_raise_a_unit_attention()
    {
        var alua = AluaGroups.TwoNodes();
        await using var h = new ScsiHarness(options: new LogicalUnitOptions { Alua = alua });
        alua.SetState(2, AluaState.Transitioning);
        h.Unit.NotifyAsymmetricAccessStateChanged();
        (await h.RunAsync(TestUnitReady)).Check(SenseCodes.AsymmetricAccessStateChanged);
        var data = (await h.RunAsync([0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], dataIn: 256)).Good().Data;
        Assert.Equal(data.Length - 4, (int)BinaryPrimitives.ReadUInt32BigEndian(data));
        Assert.Equal(0x80, data[4]); // preferred, active/optimized
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(6)));
        Assert.Equal(0x0F, data[16] & 0x0F); // group 2 transitioning
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(26)));
        var extended = (await h.RunAsync([0xA3, 0x2A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], dataIn: 256)).Good().Data;
        Assert.Equal(0x10, extended[4]);
    }
}

public sealed class ReportedLunsChangedTests
{
    [Fact]
    public async Task Adding_a_unit_raises_reported_luns_changed_which_report_luns_clears()
    {
        await using var h = new ScsiHarness();
        await using var second = new Tandem.Storage.RamDevice(1 << 20, 512);
        h.Target.AddLogicalUnit(1, new ScsiLogicalUnit(second, new LogicalUnitIdentity(ScsiHarness.Naa, "S2"), new LogicalUnitOptions()));
        (await h.RunAsync(ReportLuns(), dataIn: 64)).Good();
        (await h.RunAsync(TestUnitReady)).Good();
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.ReportedLunsDataHasChanged);
        (await h.RunAsync(TestUnitReady, nexus: B, lun: 1)).Good();
    }
}
