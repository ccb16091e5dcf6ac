using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using Tandem.Scsi.Transport;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class DispatchTests
{
    [Theory]
    [InlineData(0x02)]
    [InlineData(0xC5)]
    [InlineData(0x9C)]
    public async Task Unknown_opcode_is_invalid_command_operation_code(byte opcode)
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync([opcode, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).Check(SenseCodes.InvalidCommandOperationCode);
    }

    [Fact]
    public async Task Unmap_is_not_offered_on_a_thick_unit()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Cdb10(0x42, 0, 0, 24), dataOut: new byte[24])).Check(SenseCodes.InvalidCommandOperationCode);
    }

    [Fact]
    public async Task Unknown_service_action_points_at_the_service_action_field()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Cdb16(0x9E, 0x1F, 0, 32), dataIn: 32)).InvalidCdbField(1, 4);
    }

    [Fact]
    public async Task Reserved_bits_are_refused_with_a_field_pointer()
    {
        await using var h = new ScsiHarness();
        var cdb = Read10(0, 1);
        cdb[9] = 0;
        cdb[6] = 0x20; // reserved bit above GROUP NUMBER
        (await h.RunAsync(cdb, dataIn: 512)).InvalidCdbField(6, 5);
        (await h.RunAsync([0x00, 0x01, 0, 0, 0, 0])).InvalidCdbField(1, 0); // TEST UNIT READY byte 1
    }

    [Fact]
    public async Task Naca_is_refused_because_aca_is_not_supported()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync([0x00, 0, 0, 0, 0, 0x04])).InvalidCdbField(5, 2);
    }

    [Fact]
    public async Task Empty_cdb_never_crashes()
    {
        await using var h = new ScsiHarness();
        var command = new ScsiCommand { Nexus = A };
        command.SetCdb([]);
        await h.Target.ExecuteAsync(command);
        Assert.Equal(ScsiStatus.CheckCondition, command.Status);
    }

    [Fact]
    public async Task Random_cdbs_never_throw()
    {
        await using var h = new ScsiHarness();
        var random = new Random(1234);
        for (int i = 0; i < 20000; i++)
        {
            var cdb = new byte[random.Next(1, 17)];
            random.NextBytes(cdb);
            cdb[^1] &= 0xFB;
            var data = new byte[random.Next(0, 600)];
            random.NextBytes(data);
            var r = await h.RunAsync(cdb, dataOut: random.Next(2) == 0 ? data : null, dataIn: random.Next(0, 600), nexus: random.Next(2) == 0 ? A : B);
            Assert.True(r.Status is ScsiStatus.Good or ScsiStatus.CheckCondition or ScsiStatus.ReservationConflict, $"seed 1234 step {i}: {r.Status}");
            Assert.NotEqual(SenseCodes.InternalTargetFailure, r.Code);
        }
    }
}
