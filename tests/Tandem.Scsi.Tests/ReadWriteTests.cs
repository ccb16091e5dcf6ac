using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using Tandem.Storage;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class ReadWriteTests
{
    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Write_then_read_returns_the_data_in_every_cdb_size(int blockSize)
    {
        await using var h = new ScsiHarness(blockSize);
        var data = h.Pattern(3, 1);
        (await h.RunAsync(Write10(10, 3), dataOut: data)).Good();
        Assert.Equal(data, (await h.RunAsync(Read10(10, 3), dataIn: data.Length)).Good().Data);
        Assert.Equal(data, (await h.RunAsync(Cdb16(0x88, 0, 10, 3), dataIn: data.Length)).Good().Data);
        Assert.Equal(data, (await h.RunAsync([0xA8, 0, 0, 0, 0, 10, 0, 0, 0, 3, 0, 0], dataIn: data.Length)).Good().Data);
        Assert.Equal(data, (await h.RunAsync([0x08, 0, 0, 10, 3, 0], dataIn: data.Length)).Good().Data);

        var other = h.Pattern(2, 9);
        (await h.RunAsync(Cdb16(0x8A, 0, 20, 2), dataOut: other)).Good();
        (await h.RunAsync([0xAA, 0, 0, 0, 0, 22, 0, 0, 0, 2, 0, 0], dataOut: other)).Good();
        (await h.RunAsync([0x0A, 0, 0, 24, 2, 0], dataOut: other)).Good();
        var back = (await h.RunAsync(Read10(20, 6), dataIn: 6 * blockSize)).Good().Data;
        Assert.Equal(other.Concat(other).Concat(other).ToArray(), back);
    }

    [Fact]
    public async Task Read6_transfer_length_zero_means_256_blocks()
    {
        await using var h = new ScsiHarness();
        var r = (await h.RunAsync([0x08, 0, 0, 0, 0, 0], dataIn: 256 * 512)).Good();
        Assert.Equal(256 * 512, r.TransferLength);
    }

    [Fact]
    public async Task Read10_of_zero_blocks_moves_nothing()
    {
        await using var h = new ScsiHarness();
        Assert.Equal(0, (await h.RunAsync(Read10(0, 0))).Good().TransferLength);
    }

    [Theory]
    [InlineData(2048u, (ushort)1)]   // one past the end
    [InlineData(2047u, (ushort)2)]   // straddles the end
    [InlineData(2049u, (ushort)0)]   // zero blocks beyond the end
    [InlineData(0xFFFFFFFFu, (ushort)1)]
    public async Task Beyond_end_of_medium_is_lba_out_of_range(uint lba, ushort blocks)
    {
        await using var h = new ScsiHarness(blocks: 2048);
        (await h.RunAsync(Read10(lba, blocks), dataIn: blocks * 512)).Check(SenseCodes.LbaOutOfRange);
        (await h.RunAsync(Write10(lba, blocks), dataOut: new byte[blocks * 512])).Check(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Read16_at_lba_max_does_not_overflow()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Cdb16(0x88, 0, ulong.MaxValue, 1), dataIn: 512)).Check(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Protection_fields_are_invalid_without_protection_information()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Read10(0, 1, flags: 0x20), dataIn: 512)).InvalidCdbField(1, 7);
        (await h.RunAsync(Write10(0, 1, flags: 0x40), dataOut: new byte[512])).InvalidCdbField(1, 7);
    }

    [Fact]
    public async Task Transfer_beyond_maximum_transfer_length_is_an_invalid_field()
    {
        await using var h = new ScsiHarness(blocks: 100_000);
        uint blocks = (uint)BlockLimits.MaxTransferBlocks(512) + 1;
        (await h.RunAsync(Cdb16(0x88, 0, 0, blocks), dataIn: 0)).InvalidCdbField(10);
    }

    [Fact]
    public async Task Short_data_out_writes_only_the_whole_blocks_received()
    {
        await using var h = new ScsiHarness();
        var a = h.Pattern(2, 0x61);
        (await h.RunAsync(Write10(0, 2), dataOut: a)).Good();
        var b = h.Pattern(2, 0x10);
        var r = (await h.RunAsync(Write10(0, 2), dataOut: b[..(512 + 200)])).Good();
        Assert.Equal(1024, r.TransferLength);
        var back = (await h.RunAsync(Read10(0, 2), dataIn: 1024)).Good().Data;
        Assert.Equal(b[..512], back[..512]);
        Assert.Equal(a[512..], back[512..]);
    }

    [Fact]
    public async Task Short_data_in_buffer_gets_the_leading_bytes_including_a_partial_block()
    {
        await using var h = new ScsiHarness();
        var data = h.Pattern(2, 3);
        (await h.RunAsync(Write10(0, 2), dataOut: data)).Good();
        var r = (await h.RunAsync(Read10(0, 2), dataIn: 700)).Good();
        Assert.Equal(1024, r.TransferLength);
        Assert.Equal(data[..700], r.DataIn);
    }

    [Fact]
    public async Task Fua_reaches_the_device_and_clearing_wce_forces_it()
    {
        await using var device = new RecordingDevice(new RamDevice(1 << 20, 512));
        await using var h = new ScsiHarness(device: device);
        (await h.RunAsync(Write10(0, 1), dataOut: new byte[512])).Good();
        (await h.RunAsync(Write10(0, 1, flags: 0x08), dataOut: new byte[512])).Good();
        Assert.Equal([WriteFlags.None, WriteFlags.ForceUnitAccess], device.Writes);

        h.Unit.WriteCacheEnabled = false;
        (await h.RunAsync(Write10(0, 1), dataOut: new byte[512])).Good();
        Assert.Equal(WriteFlags.ForceUnitAccess, device.Writes[^1]);
    }

    [Fact]
    public async Task Synchronize_cache_flushes_and_checks_its_range()
    {
        await using var device = new RecordingDevice(new RamDevice(1 << 20, 512));
        await using var h = new ScsiHarness(device: device);
        (await h.RunAsync(Cdb10(0x35, 0, 0, 0))).Good();
        (await h.RunAsync(Cdb16(0x91, 0, 0, 0))).Good();
        Assert.Equal(2, device.Flushes);
        (await h.RunAsync(Cdb10(0x35, 0, 4096, 1))).Check(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Write_and_verify_writes_durably()
    {
        await using var device = new RecordingDevice(new RamDevice(1 << 20, 512));
        await using var h = new ScsiHarness(device: device);
        var data = h.Pattern(1, 5);
        (await h.RunAsync(Cdb10(0x2E, 0x02, 3, 1), dataOut: data)).Good();
        Assert.Equal(WriteFlags.ForceUnitAccess, device.Writes.Single());
        Assert.Equal(data, (await h.RunAsync(Read10(3, 1), dataIn: 512)).Good().Data);
    }

    [Fact]
    public async Task Concurrent_reads_and_writes_to_distinct_blocks_all_land()
    {
        await using var h = new ScsiHarness(blocks: 4096);
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            var data = h.Pattern(4, (byte)i);
            (await h.RunAsync(Write10((uint)(i * 4), 4), dataOut: data, nexus: i % 2 == 0 ? A : B)).Good();
            Assert.Equal(data, (await h.RunAsync(Read10((uint)(i * 4), 4), dataIn: data.Length)).Good().Data);
        }));
    }
}
