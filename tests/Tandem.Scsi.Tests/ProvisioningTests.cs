using System.Buffers.Binary;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class ProvisioningTests
{
    private static byte[] UnmapList(params (ulong Lba, uint Blocks)[] descriptors)
    {
        var data = new byte[8 + 16 * descriptors.Length];
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)(data.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), (ushort)(16 * descriptors.Length));
        for (int i = 0; i < descriptors.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8 + 16 * i), descriptors[i].Lba);
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(16 + 16 * i), descriptors[i].Blocks);
        }
        return data;
    }

    private static byte[] GetLbaStatus(ulong lba, uint allocation = 64) => Cdb16(0x9E, 0x12, lba, allocation);

    [Fact]
    public async Task Read_capacity_reports_geometry_and_thin_provisioning()
    {
        await using var thick = new ScsiHarness(blocks: 2048);
        var rc10 = (await thick.RunAsync([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataIn: 8)).Good().Data;
        Assert.Equal(2047u, BinaryPrimitives.ReadUInt32BigEndian(rc10));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32BigEndian(rc10.AsSpan(4)));
        var rc16 = (await thick.RunAsync(Cdb16(0x9E, 0x10, 0, 32), dataIn: 32)).Good().Data;
        Assert.Equal(3, rc16[13] & 0x0F); // 8 logical blocks per 4096-byte physical block
        Assert.Equal(0, rc16[14] & 0xC0);
        (await thick.RunAsync([0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0], dataIn: 8)).InvalidCdbField(2);

        await using var thin = new ScsiHarness(blockSize: 4096, blocks: 256, thin: true);
        rc16 = (await thin.RunAsync(Cdb16(0x9E, 0x10, 0, 32), dataIn: 32)).Good().Data;
        Assert.Equal(0, rc16[13] & 0x0F);
        Assert.Equal(0xC0, rc16[14] & 0xC0); // LBPME, LBPRZ
        Assert.Equal(12, (await thin.RunAsync(Cdb16(0x9E, 0x10, 0, 12), dataIn: 32)).Good().TransferLength);
    }

    [Fact]
    public async Task Write_same_replicates_one_block()
    {
        await using var h = new ScsiHarness();
        var block = h.Pattern(1, 0x33);
        (await h.RunAsync(Cdb10(0x41, 0, 100, 40), dataOut: block)).Good();
        var back = (await h.RunAsync(Read10(100, 40), dataIn: 40 * 512)).Good().Data;
        for (int i = 0; i < 40; i++)
            Assert.Equal(block, back.AsSpan(i * 512, 512).ToArray());
    }

    [Fact]
    public async Task Write_same_refuses_zero_blocks_anchor_bad_data_out_and_unmap_on_thick()
    {
        await using var h = new ScsiHarness(blocks: 100_000);
        var block = new byte[512];
        (await h.RunAsync(Cdb10(0x41, 0, 0, 0), dataOut: block)).InvalidCdbField(7);
        (await h.RunAsync(Cdb10(0x41, 0x10, 0, 1), dataOut: block)).InvalidCdbField(1, 4);
        (await h.RunAsync(Cdb10(0x41, 0x08, 0, 1), dataOut: block)).InvalidCdbField(1, 3);
        (await h.RunAsync(Cdb10(0x41, 0, 0, 1), dataOut: new byte[256])).Check(SenseCodes.InvalidFieldInCdb);
        (await h.RunAsync(Cdb10(0x41, 0, 0, 1), dataOut: new byte[1024])).Check(SenseCodes.InvalidFieldInCdb);
        (await h.RunAsync(Cdb10(0x41, 0, 100_001, 0), dataOut: block)).Check(SenseCodes.LbaOutOfRange);
        (await h.RunAsync(Cdb16(0x93, 0, 0, 0x10000), dataOut: block)).InvalidCdbField(10);
    }

    [Fact]
    public async Task Write_same_with_unmap_deallocates_on_thin_and_reads_zero()
    {
        await using var h = new ScsiHarness(blocks: 4096, thin: true);
        (await h.RunAsync(Write10(0, 64), dataOut: h.Pattern(64, 7))).Good();
        (await h.RunAsync(Cdb16(0x93, 0x08, 0, 64), dataOut: new byte[512])).Good();
        Assert.All((await h.RunAsync(Read10(0, 64), dataIn: 64 * 512)).Good().Data, b => Assert.Equal(0, b));
        var status = (await h.RunAsync(GetLbaStatus(0), dataIn: 64)).Good().Data;
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64BigEndian(status.AsSpan(8)));
        Assert.Equal(1, status[20] & 0x0F); // deallocated
        // NDOB with UNMAP needs no data-out.
        (await h.RunAsync(Cdb16(0x93, 0x09, 64, 8))).Good();
    }

    [Fact]
    public async Task Unmap_releases_blocks_and_get_lba_status_reports_them()
    {
        await using var h = new ScsiHarness(blocks: 4096, thin: true);
        (await h.RunAsync(Write10(0, 128), dataOut: h.Pattern(128, 1))).Good();
        (await h.RunAsync(Cdb10(0x42, 0, 0, 24), dataOut: UnmapList((0, 64)))).Good();
        var data = (await h.RunAsync(GetLbaStatus(0), dataIn: 64)).Good().Data;
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(8)));
        Assert.Equal(64u, BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(16)));
        Assert.Equal(1, data[20] & 0x0F);
        Assert.Equal(64ul, BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(24)));
        Assert.Equal(0, data[36] & 0x0F); // mapped
        var aligned = (await h.RunAsync(GetLbaStatus(72, 24), dataIn: 24)).Good().Data;
        Assert.Equal(72ul, BinaryPrimitives.ReadUInt64BigEndian(aligned.AsSpan(8)));
        // Inside a 4096-byte physical block: answered from the next physical block boundary.
        var inside = (await h.RunAsync(GetLbaStatus(65, 24), dataIn: 24)).Good().Data;
        Assert.Equal(72ul, BinaryPrimitives.ReadUInt64BigEndian(inside.AsSpan(8)));
        Assert.Equal(0, inside[20] & 0x0F); // mapped
    }

    [Fact]
    public async Task Unmap_parameter_list_is_checked_before_anything_is_released()
    {
        await using var h = new ScsiHarness(blocks: 4096, thin: true);
        var data = h.Pattern(8, 3);
        (await h.RunAsync(Write10(0, 8), dataOut: data)).Good();
        (await h.RunAsync(Cdb10(0x42, 0, 0, 0))).Good(); // no parameter list: nothing to do
        (await h.RunAsync(Cdb10(0x42, 0, 0, 4), dataOut: new byte[4])).Check(SenseCodes.ParameterListLengthError);
        (await h.RunAsync(Cdb10(0x42, 0, 0, 40), dataOut: UnmapList((0, 8), (4096, 1)))).Check(SenseCodes.LbaOutOfRange);
        Assert.Equal(data, (await h.RunAsync(Read10(0, 8), dataIn: 8 * 512)).Good().Data);
        var tooMany = UnmapList(Enumerable.Range(0, 257).Select(i => ((ulong)i, 0u)).ToArray());
        (await h.RunAsync(Cdb10(0x42, 0, 0, (ushort)tooMany.Length), dataOut: tooMany)).Check(SenseCodes.InvalidFieldInParameterList);
        var lying = UnmapList((0, 8));
        BinaryPrimitives.WriteUInt16BigEndian(lying.AsSpan(2), 64);
        (await h.RunAsync(Cdb10(0x42, 0, 0, 24), dataOut: lying)).Check(SenseCodes.ParameterListLengthError);
        (await h.RunAsync(Cdb10(0x42, 1, 0, 24), dataOut: UnmapList((0, 8)))).InvalidCdbField(1, 0);
        (await h.RunAsync(Cdb10(0x42, 0, 0, 24), dataOut: UnmapList((4096, 0)))).Good();
    }

    [Theory]
    [InlineData(2049ul)]
    [InlineData(2048ul)]
    [InlineData(0x8000000000000000ul)]
    [InlineData(ulong.MaxValue)]
    public async Task Get_lba_status_beyond_end_is_lba_out_of_range(ulong lba)
    {
        await using var h = new ScsiHarness(blocks: 2048);
        (await h.RunAsync(GetLbaStatus(lba, 24), dataIn: 24)).Check(SenseCodes.LbaOutOfRange);
    }
}
