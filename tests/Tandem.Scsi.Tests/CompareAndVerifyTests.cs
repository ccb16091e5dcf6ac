using System.Buffers.Binary;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class CompareAndVerifyTests
{
    private static byte[] CompareAndWrite(ulong lba, byte blocks, byte flags = 0)
    {
        var cdb = new byte[16];
        cdb[0] = 0x89;
        cdb[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        cdb[13] = blocks;
        return cdb;
    }

    [Fact]
    public async Task Verify_with_bytchk_compares_and_reports_the_first_miscompare_offset()
    {
        await using var h = new ScsiHarness();
        var data = h.Pattern(2, 1);
        (await h.RunAsync(Write10(8, 2), dataOut: data)).Good();
        (await h.RunAsync(Cdb10(0x2F, 0x02, 8, 2), dataOut: data)).Good();
        var wrong = (byte[])data.Clone();
        wrong[700] ^= 0xFF;
        var r = (await h.RunAsync(Cdb10(0x2F, 0x02, 8, 2), dataOut: wrong)).Check(SenseCodes.MiscompareDuringVerify);
        Assert.Equal(0x80, r.Sense[0] & 0x80); // VALID
        Assert.Equal(700u, r.Information);
        // BYTCHK=0 only verifies the medium: no compare, GOOD.
        (await h.RunAsync(Cdb10(0x2F, 0x00, 8, 2))).Good();
        (await h.RunAsync(Cdb10(0x2F, 0x04, 8, 2), dataOut: data)).InvalidCdbField(1, 2);
        (await h.RunAsync(Cdb10(0x2F, 0x02, 4096, 1), dataOut: data)).Check(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Compare_and_write_writes_on_match_and_reports_miscompare_offset()
    {
        await using var h = new ScsiHarness();
        var old = h.Pattern(1, 0x41);
        var updated = h.Pattern(1, 0x42);
        (await h.RunAsync(Write10(5, 1), dataOut: old)).Good();
        (await h.RunAsync(CompareAndWrite(5, 1), dataOut: [.. old, .. updated])).Good();
        Assert.Equal(updated, (await h.RunAsync(Read10(5, 1), dataIn: 512)).Good().Data);

        var r = (await h.RunAsync(CompareAndWrite(5, 1), dataOut: [.. old, .. updated])).Check(SenseCodes.MiscompareDuringVerify);
        Assert.Equal((uint)BlockIo_FirstDiff(old, updated), r.Information);
        Assert.Equal(updated, (await h.RunAsync(Read10(5, 1), dataIn: 512)).Good().Data);
    }

    private static int BlockIo_FirstDiff(byte[] a, byte[] b) => a.AsSpan().CommonPrefixLength(b);

    [Fact]
    public async Task Compare_and_write_checks_length_range_and_data_out_size()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(CompareAndWrite(0, 65), dataOut: new byte[65 * 1024])).InvalidCdbField(13);
        (await h.RunAsync(CompareAndWrite(2048, 1), dataOut: new byte[1024])).Check(SenseCodes.LbaOutOfRange);
        (await h.RunAsync(CompareAndWrite(0, 1), dataOut: new byte[512])).InvalidCdbField(13);
        (await h.RunAsync(CompareAndWrite(0, 0))).Good();
        (await h.RunAsync(CompareAndWrite(0, 0), dataOut: new byte[1024])).InvalidCdbField(13);
    }

    [Fact]
    public async Task Concurrent_compare_and_writes_from_two_nexuses_are_atomic()
    {
        // Each CAW increments a counter held in block 0 if it still holds the value it read;
        // with atomic CAW the counter ends at exactly the number of successful CAWs.
        await using var h = new ScsiHarness();
        (await h.RunAsync(Write10(0, 1), dataOut: new byte[512])).Good();
        int successes = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            for (int i = 0; i < 50; i++)
            {
                var current = (await h.RunAsync(Read10(0, 1), dataIn: 512, nexus: worker % 2 == 0 ? A : B)).Good().Data;
                var next = (byte[])current.Clone();
                BinaryPrimitives.WriteInt32LittleEndian(next, BinaryPrimitives.ReadInt32LittleEndian(current) + 1);
                // Concurrent plain writes elsewhere must not break the CAW gate.
                (await h.RunAsync(Write10((uint)(10 + worker), 1), dataOut: next)).Good();
                var r = await h.RunAsync(CompareAndWrite(0, 1), dataOut: [.. current, .. next], nexus: worker % 2 == 0 ? A : B);
                if (r.Status == Transport.ScsiStatus.Good)
                    Interlocked.Increment(ref successes);
                else
                    r.Check(SenseCodes.MiscompareDuringVerify);
            }
        }));
        var final = (await h.RunAsync(Read10(0, 1), dataIn: 512)).Good().Data;
        Assert.Equal(successes, BinaryPrimitives.ReadInt32LittleEndian(final));
        Assert.True(successes > 0);
    }

    [Fact]
    public async Task Orwrite_ors_data_into_the_blocks()
    {
        await using var h = new ScsiHarness();
        var a = Enumerable.Repeat((byte)0x0F, 512).ToArray();
        var b = Enumerable.Repeat((byte)0xF0, 512).ToArray();
        (await h.RunAsync(Write10(1, 1), dataOut: a)).Good();
        (await h.RunAsync(Cdb16(0x8B, 0, 1, 1), dataOut: b)).Good();
        Assert.All((await h.RunAsync(Read10(1, 1), dataIn: 512)).Good().Data, x => Assert.Equal(0xFF, x));
    }
}
