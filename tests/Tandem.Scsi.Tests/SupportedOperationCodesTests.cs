using System.Buffers.Binary;
using Tandem.Scsi.Commands;
using Tandem.Scsi.Tests.Support;

namespace Tandem.Scsi.Tests;

public sealed class SupportedOperationCodesTests
{
    private static byte[] Rsoc(byte options, byte opcode = 0, ushort serviceAction = 0, uint allocation = 8192)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA3;
        cdb[1] = 0x0C;
        cdb[2] = options;
        cdb[3] = opcode;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(4), serviceAction);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), allocation);
        return cdb;
    }

    [Fact]
    public async Task All_commands_list_matches_the_dispatch_table_with_and_without_timeouts()
    {
        await using var h = new ScsiHarness();
        var data = (await h.RunAsync(Rsoc(0), dataIn: 8192)).Good().Data;
        int count = (int)BinaryPrimitives.ReadUInt32BigEndian(data) / 8;
        Assert.Equal(CommandTable.All.Count(d => (d.Flags & CommandFlags.ThinOnly) == 0), count);
        var withTimeouts = (await h.RunAsync(Rsoc(0x80), dataIn: 8192)).Good().Data;
        Assert.Equal(count * 20, (int)BinaryPrimitives.ReadUInt32BigEndian(withTimeouts));
        Assert.Equal(0x0A, BinaryPrimitives.ReadUInt16BigEndian(withTimeouts.AsSpan(12)));
    }

    [Fact]
    public async Task One_command_returns_its_usage_data_and_service_action_rules_hold()
    {
        await using var h = new ScsiHarness();
        var read10 = (await h.RunAsync(Rsoc(1, 0x28), dataIn: 64)).Good().Data;
        Assert.Equal(3, read10[1] & 0x07);
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(read10.AsSpan(2)));
        Assert.Equal(0x28, read10[4]);
        Assert.Equal(0x18, read10[5] & 0x18); // DPO and FUA evaluated
        (await h.RunAsync(Rsoc(1, 0x9E), dataIn: 64)).InvalidCdbField(2, 2);
        (await h.RunAsync(Rsoc(2, 0x28), dataIn: 64)).InvalidCdbField(2, 2);
        var rc16 = (await h.RunAsync(Rsoc(2, 0x9E, 0x10), dataIn: 64)).Good().Data;
        Assert.Equal(16, BinaryPrimitives.ReadUInt16BigEndian(rc16.AsSpan(2)));
        var unsupported = (await h.RunAsync(Rsoc(1, 0xC5), dataIn: 64)).Good().Data;
        Assert.Equal(1, unsupported[1] & 0x07);
        (await h.RunAsync(Rsoc(7), dataIn: 64)).InvalidCdbField(2, 2);
    }

    [Fact]
    public void Every_descriptor_evaluates_its_opcode_and_control_byte()
    {
        foreach (var d in CommandTable.All)
        {
            Assert.Equal(d.Opcode, d.UsageMask[0]);
            Assert.Equal(Cdb.CdbReader.ExpectedLength(d.Opcode), d.CdbLength);
            if (d.HasServiceAction)
                Assert.Equal(0x1F, d.UsageMask[1] & 0x1F);
        }
    }
}
