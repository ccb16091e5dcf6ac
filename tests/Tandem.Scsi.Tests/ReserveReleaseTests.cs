using Tandem.Scsi.Tests.Support;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class ReserveReleaseTests
{
    private static readonly byte[] Reserve6 = [0x16, 0, 0, 0, 0, 0];
    private static readonly byte[] Release6 = [0x17, 0, 0, 0, 0, 0];
    private static readonly byte[] Reserve10 = [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    [Fact]
    public async Task Reservation_excludes_other_nexuses_except_inquiry_class_commands()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Reserve6)).Good();
        (await h.RunAsync(Reserve6)).Good();
        (await h.RunAsync(Reserve6, nexus: B)).Conflict();
        (await h.RunAsync(Release6, nexus: B)).Good(); // no-op
        (await h.RunAsync(Read10(0, 1), dataIn: 512, nexus: B)).Conflict();
        (await h.RunAsync([0x1A, 0x08, 0x3F, 0, 255, 0], dataIn: 255, nexus: B)).Conflict();
        (await h.RunAsync(Inquiry(), dataIn: 96, nexus: B)).Good();
        (await h.RunAsync(ReportLuns(), dataIn: 64, nexus: B)).Good();
        (await h.RunAsync(Read10(0, 1), dataIn: 512)).Good();
        (await h.RunAsync(Release6)).Good();
        (await h.RunAsync(Reserve10, nexus: B)).Good();
        (await h.RunAsync(Read10(0, 1), dataIn: 512)).Conflict();
    }

    [Fact]
    public async Task Nexus_loss_and_resets_release_the_reservation()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Reserve6)).Good();
        h.Target.NexusLost(A);
        h.Target.NexusCreated(A);
        (await h.RunAsync(Reserve6, nexus: B)).Good();
        await h.Target.LogicalUnitResetAsync(0, B);
        (await h.RunAsync(TestUnitReady)).Check(Tandem.Scsi.Sense.SenseCodes.PowerOnResetOccurred);
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(Tandem.Scsi.Sense.SenseCodes.PowerOnResetOccurred);
        (await h.RunAsync(Reserve6)).Good();
        await h.Target.TargetResetAsync(B);
        (await h.RunAsync(Reserve6, nexus: B)).Good();
    }

    [Fact]
    public async Task Reserve_conflicts_with_persistent_registrations()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(PrCdb.Out(PrCdb.RegisterAndIgnore, 0), dataOut: PrCdb.Parameters(0, 0x77), nexus: B)).Good();
        (await h.RunAsync(Reserve6)).Conflict();
        (await h.RunAsync(Release6)).Conflict();
    }
}
