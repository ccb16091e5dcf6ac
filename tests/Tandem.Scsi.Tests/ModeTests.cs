using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class ModeTests
{
    private static byte[] ModeSense6(byte page, int pageControl = 0, bool dbd = true, byte allocation = 255) =>
        [0x1A, (byte)(dbd ? 0x08 : 0), (byte)(pageControl << 6 | page), 0, allocation, 0];

    private static byte[] ModeSelect6(int length) => [0x15, 0x10, 0, 0, (byte)length, 0];

    private static byte[] FindPage(byte[] data, int headerLength, byte page)
    {
        for (int at = headerLength + data[headerLength - 1]; at < data.Length; at += data[at + 1] + 2)
            if ((data[at] & 0x3F) == page)
                return data.AsSpan(at, data[at + 1] + 2).ToArray();
        throw new Xunit.Sdk.XunitException($"page {page:X2} missing");
    }

    [Fact]
    public async Task All_pages_have_caching_and_control_with_wce_and_dpofua()
    {
        await using var h = new ScsiHarness();
        var data = (await h.RunAsync(ModeSense6(0x3F, dbd: false), dataIn: 255)).Good().Data;
        Assert.Equal(data.Length - 1, data[0]);
        Assert.Equal(0x10, data[2]); // DPOFUA, not write protected
        Assert.Equal(8, data[3]);    // one short block descriptor
        Assert.Equal(0x04, FindPage(data, 4, 0x08)[2] & 0x04);
        Assert.Equal(0x0A, FindPage(data, 4, 0x0A)[1]);
    }

    [Fact]
    public async Task Mode_sense_10_with_llbaa_returns_a_long_descriptor()
    {
        await using var h = new ScsiHarness();
        var data = (await h.RunAsync([0x5A, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0], dataIn: 255)).Good().Data;
        Assert.Equal(1, data[4] & 0x01);
        Assert.Equal(16, data[7]);
    }

    [Fact]
    public async Task Changeable_values_show_wce_and_swp_and_saved_values_are_not_supported()
    {
        await using var h = new ScsiHarness();
        var changeable = (await h.RunAsync(ModeSense6(0x3F, pageControl: 1), dataIn: 255)).Good().Data;
        Assert.Equal(0x04, FindPage(changeable, 4, 0x08)[2]);
        Assert.Equal(0x08, FindPage(changeable, 4, 0x0A)[4]);
        (await h.RunAsync(ModeSense6(0x08, pageControl: 3), dataIn: 255)).Check(SenseCodes.SavingParametersNotSupported);
        (await h.RunAsync(ModeSense6(0x19), dataIn: 255)).InvalidCdbField(2, 5);
    }

    [Fact]
    public async Task Residual_is_bounded_by_the_allocation_length()
    {
        await using var h = new ScsiHarness();
        Assert.Equal(4, (await h.RunAsync(ModeSense6(0x3F, allocation: 4), dataIn: 4)).Good().TransferLength);
    }

    [Fact]
    public async Task Control_page_reports_tas_zero_as_the_transport_behaves()
    {
        await using var h = new ScsiHarness();
        var control = FindPage((await h.RunAsync(ModeSense6(0x0A), dataIn: 255)).Good().Data, 4, 0x0A);
        Assert.Equal(0, control[5] & 0x40); // aborted tasks of other nexuses end without status; they get a UA
    }

    [Fact]
    public async Task Mode_select_sets_swp_and_tells_the_other_nexuses()
    {
        await using var h = new ScsiHarness();
        var control = FindPage((await h.RunAsync(ModeSense6(0x0A), dataIn: 255)).Good().Data, 4, 0x0A);
        control[4] |= 0x08;
        byte[] parameters = [0, 0, 0, 0, .. control];
        (await h.RunAsync(ModeSelect6(parameters.Length), dataOut: parameters)).Good();

        (await h.RunAsync(Write10(0, 1), dataOut: new byte[512])).Check(SenseCodes.WriteProtected);
        (await h.RunAsync(Read10(0, 1), dataIn: 512)).Good();
        Assert.Equal(0x80, (await h.RunAsync(ModeSense6(0x3F), dataIn: 255)).Good().Data[2] & 0x80);
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.ModeParametersChanged);
        (await h.RunAsync(TestUnitReady, nexus: B)).Good();
        (await h.RunAsync(TestUnitReady, nexus: A)).Good();

        control[4] &= 0xF7;
        parameters = [0, 0, 0, 0, .. control];
        (await h.RunAsync(ModeSelect6(parameters.Length), dataOut: parameters)).Good();
        (await h.RunAsync(Write10(0, 1), dataOut: new byte[512])).Good();
    }

    [Fact]
    public async Task Mode_select_refuses_unchangeable_bits_unknown_pages_and_saving()
    {
        await using var h = new ScsiHarness();
        var caching = FindPage((await h.RunAsync(ModeSense6(0x08), dataIn: 255)).Good().Data, 4, 0x08);
        caching[2] |= 0x01; // RCD is not changeable
        byte[] parameters = [0, 0, 0, 0, .. caching];
        (await h.RunAsync(ModeSelect6(parameters.Length), dataOut: parameters)).Check(SenseCodes.InvalidFieldInParameterList);
        (await h.RunAsync([0x15, 0x11, 0, 0, (byte)parameters.Length, 0], dataOut: parameters)).InvalidCdbField(1, 0);
        byte[] unknown = [0, 0, 0, 0, 0x19, 0x06, 0, 0, 0, 0, 0, 0];
        (await h.RunAsync(ModeSelect6(unknown.Length), dataOut: unknown)).Check(SenseCodes.InvalidFieldInParameterList);
        byte[] truncated = [0, 0, 0, 0, 0x08, 0x12, 0];
        (await h.RunAsync(ModeSelect6(truncated.Length), dataOut: truncated)).Check(SenseCodes.ParameterListLengthError);
        Assert.True(h.Unit.WriteCacheEnabled);
    }

    [Fact]
    public async Task Clearing_wce_is_reported_back()
    {
        await using var h = new ScsiHarness();
        var caching = FindPage((await h.RunAsync(ModeSense6(0x08), dataIn: 255)).Good().Data, 4, 0x08);
        caching[2] &= 0xFB;
        byte[] parameters = [0, 0, 0, 0, .. caching];
        (await h.RunAsync(ModeSelect6(parameters.Length), dataOut: parameters)).Good();
        Assert.False(h.Unit.WriteCacheEnabled);
        Assert.Equal(0, FindPage((await h.RunAsync(ModeSense6(0x08), dataIn: 255)).Good().Data, 4, 0x08)[2] & 0x04);
    }
}
