using System.Buffers.Binary;
using System.Text;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class InquiryTests
{
    [Fact]
    public async Task Standard_inquiry_reports_identity_spc4_and_implicit_alua()
    {
        await using var h = new ScsiHarness();
        var data = (await h.RunAsync(Inquiry(), dataIn: 255)).Good().Data;
        Assert.Equal(96, data.Length);
        Assert.Equal(0x00, data[0]);
        Assert.Equal(0x06, data[2]);
        Assert.Equal(2, data[3] & 0x0F);
        Assert.Equal(data.Length - 5, data[4]);
        Assert.Equal(0x10, data[5] & 0x30); // TPGS = implicit
        Assert.Equal("TANDEM  ", Encoding.ASCII.GetString(data, 8, 8));
        Assert.Equal("VSAN            ", Encoding.ASCII.GetString(data, 16, 16));
        Assert.Contains((ushort)0x04C0, Enumerable.Range(0, 8).Select(i => BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(58 + 2 * i))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(36)]
    public async Task Allocation_length_bounds_the_transfer(int allocation)
    {
        await using var h = new ScsiHarness();
        var r = (await h.RunAsync(Inquiry(allocation: (ushort)allocation), dataIn: 255)).Good();
        Assert.Equal(allocation, r.TransferLength);
    }

    [Fact]
    public async Task Data_in_buffer_shorter_than_allocation_is_never_overrun()
    {
        await using var h = new ScsiHarness();
        var r = (await h.RunAsync(Inquiry(allocation: 255), dataIn: 10)).Good();
        Assert.Equal(96, r.TransferLength); // the transport computes the overflow residual
        Assert.Equal(10, r.DataIn.Length);
    }

    [Fact]
    public async Task Page_code_without_evpd_is_an_invalid_field()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Inquiry(evpd: false, page: 0x80), dataIn: 255)).InvalidCdbField(2);
    }

    [Fact]
    public async Task Unknown_vpd_page_is_an_invalid_field()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Inquiry(evpd: true, page: 0xC7), dataIn: 255)).InvalidCdbField(2);
    }

    [Fact]
    public async Task Every_listed_vpd_page_can_be_read()
    {
        await using var h = new ScsiHarness();
        var pages = (await h.RunAsync(Inquiry(evpd: true, page: 0), dataIn: 255)).Good().Data;
        Assert.Equal(new byte[] { 0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2 }, pages[4..]);
        foreach (byte page in pages[4..])
        {
            var data = (await h.RunAsync(Inquiry(evpd: true, page: page), dataIn: 1024)).Good().Data;
            Assert.Equal(page, data[1]);
            Assert.Equal(data.Length - 4, BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(2)));
        }
    }

    [Fact]
    public async Task Device_identification_has_naa_port_group_relative_port_and_target_name()
    {
        await using var h = new ScsiHarness();
        var nexus = A.WithTargetPort(relativeTargetPortId: 7, targetPortGroupId: 3);
        var data = (await h.RunAsync(Inquiry(evpd: true, page: 0x83), dataIn: 1024, nexus: nexus)).Good().Data;
        var designators = new List<(int Association, int Type, byte[] Value)>();
        for (int at = 4; at < data.Length;)
        {
            int length = data[at + 3];
            designators.Add(((data[at + 1] >> 4) & 3, data[at + 1] & 0x0F, data.AsSpan(at + 4, length).ToArray()));
            at += 4 + length;
        }
        Assert.Equal(Naa, designators.Single(d => d.Type == 3).Value);
        Assert.Equal(7, BinaryPrimitives.ReadUInt16BigEndian(designators.Single(d => d.Type == 4).Value.AsSpan(2)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(designators.Single(d => d.Type == 5).Value.AsSpan(2)));
        var targetName = designators.Single(d => d.Type == 8 && d.Association == 2).Value;
        Assert.Equal(0, targetName.Length % 4);
        Assert.StartsWith(nexus.TargetName + "\0", Encoding.UTF8.GetString(targetName));
    }

    [Fact]
    public async Task Block_limits_and_provisioning_pages_follow_thin_provisioning()
    {
        await using var thick = new ScsiHarness();
        var b0 = (await thick.RunAsync(Inquiry(evpd: true, page: 0xB0), dataIn: 255)).Good().Data;
        Assert.Equal(0x3C, b0[3]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(b0.AsSpan(20))); // no UNMAP on thick
        var b2 = (await thick.RunAsync(Inquiry(evpd: true, page: 0xB2), dataIn: 255)).Good().Data;
        Assert.Equal(0, b2[5]);

        await using var thin = new ScsiHarness(thin: true);
        b0 = (await thin.RunAsync(Inquiry(evpd: true, page: 0xB0), dataIn: 255)).Good().Data;
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32BigEndian(b0.AsSpan(20)));
        b2 = (await thin.RunAsync(Inquiry(evpd: true, page: 0xB2), dataIn: 255)).Good().Data;
        Assert.Equal(0xE4, b2[5]); // LBPU, LBPWS, LBPWS10, LBPRZ
    }

    [Fact]
    public async Task Missing_lun_answers_inquiry_with_qualifier_3_and_refuses_media_commands()
    {
        await using var h = new ScsiHarness();
        var data = (await h.RunAsync(Inquiry(), dataIn: 96, lun: 5)).Good().Data;
        Assert.Equal(0x7F, data[0]);
        (await h.RunAsync(TestUnitReady, lun: 5)).Check(SenseCodes.LogicalUnitNotSupported);
        (await h.RunAsync(Read10(0, 1), dataIn: 512, lun: 5)).Check(SenseCodes.LogicalUnitNotSupported);
        var sense = (await h.RunAsync(RequestSense(), dataIn: 18, lun: 5)).Good().Data;
        Assert.Equal(SenseCodes.LogicalUnitNotSupported, SenseData.Parse(sense));
        var luns = (await h.RunAsync(ReportLuns(), dataIn: 256, lun: 5)).Good().Data;
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(luns));
    }

    [Fact]
    public async Task Report_luns_lists_every_unit_and_rejects_short_allocation()
    {
        await using var h = new ScsiHarness();
        await using var second = new Tandem.Storage.RamDevice(1 << 20, 512);
        h.Target.AddLogicalUnit(300, new LogicalUnits.ScsiLogicalUnit(second, new LogicalUnits.LogicalUnitIdentity(Naa, "S2"), new LogicalUnits.LogicalUnitOptions()));
        var data = (await h.RunAsync(ReportLuns(), dataIn: 256)).Good().Data;
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(data));
        Assert.Equal(new byte[] { 0, 0 }, data[8..10]);
        Assert.Equal(new byte[] { 0x41, 0x2C }, data[16..18]); // flat space addressing for 300
        (await h.RunAsync(ReportLuns(allocation: 8), dataIn: 8)).InvalidCdbField(6);
        Assert.True(h.Target.RemoveLogicalUnit(300));
        Assert.False(h.Target.RemoveLogicalUnit(300));
    }
}
