using System.Buffers.Binary;
using Tandem.Scsi.LogicalUnits;
using Tandem.Scsi.Sense;
using Tandem.Scsi.Tests.Support;
using Tandem.Scsi.Transport;
using static Tandem.Scsi.Tests.Support.PrCdb;
using static Tandem.Scsi.Tests.Support.ScsiHarness;

namespace Tandem.Scsi.Tests;

public sealed class PersistentReservationTests
{
    private const ulong KeyA = 0xAAAA, KeyB = 0xBBBB;
    private static readonly ITNexus C = new("iqn.2026-01.test:host-c", 0x23D000000003, "iqn.2026-11.org.tandem:node-disk", 1, 1, 1);

    private static async Task RegisterAsync(ScsiHarness h, ITNexus nexus, ulong key, bool aptpl = false) =>
        (await h.RunAsync(Out(RegisterAndIgnore, 0), dataOut: Parameters(0, key, aptpl: aptpl), nexus: nexus)).Good();

    private static Task<ScsiHarness.Result> OutAsync(ScsiHarness h, ITNexus nexus, byte action, byte type, ulong key, ulong serviceActionKey = 0) =>
        h.RunAsync(Out(action, type), dataOut: Parameters(key, serviceActionKey), nexus: nexus);

    private static async Task<(bool Read, bool Write)> AccessAsync(ScsiHarness h, ITNexus nexus)
    {
        var read = await h.RunAsync(Read10(0, 1), dataIn: 512, nexus: nexus);
        var write = await h.RunAsync(Write10(0, 1), dataOut: new byte[512], nexus: nexus);
        Assert.True(read.Status is ScsiStatus.Good or ScsiStatus.ReservationConflict, read.Code.ToString());
        Assert.True(write.Status is ScsiStatus.Good or ScsiStatus.ReservationConflict, write.Code.ToString());
        return (read.Status == ScsiStatus.Good, write.Status == ScsiStatus.Good);
    }

    // SPC-4 §5.12.1 table: access of a registered non-holder and of an unregistered nexus.
    [Theory]
    [InlineData(1, true, false, true, false)]   // Write Exclusive
    [InlineData(3, false, false, false, false)] // Exclusive Access
    [InlineData(5, true, true, true, false)]    // Write Exclusive, registrants only
    [InlineData(6, true, true, false, false)]   // Exclusive Access, registrants only
    [InlineData(7, true, true, true, false)]    // Write Exclusive, all registrants
    [InlineData(8, true, true, false, false)]   // Exclusive Access, all registrants
    public async Task Conflict_matrix_per_reservation_type(byte type, bool registeredRead, bool registeredWrite, bool unregisteredRead, bool unregisteredWrite)
    {
        await using var h = new ScsiHarness();
        h.Target.NexusCreated(C);
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        (await OutAsync(h, A, Reserve, type, KeyA)).Good();

        Assert.Equal((true, true), await AccessAsync(h, A));
        Assert.Equal((registeredRead, registeredWrite), await AccessAsync(h, B));
        Assert.Equal((unregisteredRead, unregisteredWrite), await AccessAsync(h, C));

        // Commands that never conflict.
        (await h.RunAsync(Inquiry(), dataIn: 96, nexus: C)).Good();
        (await h.RunAsync(TestUnitReady, nexus: C)).Good();
        (await h.RunAsync(In(ReadKeys), dataIn: 1024, nexus: C)).Good();

        var reservation = (await h.RunAsync(In(ReadReservation), dataIn: 1024)).Good().Data;
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(reservation.AsSpan(4)));
        Assert.Equal(type is 7 or 8 ? 0ul : KeyA, BinaryPrimitives.ReadUInt64BigEndian(reservation.AsSpan(8)));
        Assert.Equal(type, reservation[21]);

        (await OutAsync(h, A, Release, type, KeyA)).Good();
        Assert.Equal((true, true), await AccessAsync(h, C));
    }

    [Fact]
    public async Task Register_rules_and_generation()
    {
        await using var h = new ScsiHarness();
        (await OutAsync(h, A, Register, 0, KeyB, KeyA)).Conflict(); // unregistered with a non-zero key
        (await OutAsync(h, A, Register, 0, 0, KeyA)).Good();
        (await OutAsync(h, A, Register, 0, KeyB, 0x1234)).Conflict(); // wrong key
        (await OutAsync(h, A, Register, 0, KeyA, 0x1234)).Good();     // change key
        (await OutAsync(h, A, RegisterAndIgnore, 0, 0, KeyA)).Good();
        var keys = (await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data;
        Assert.Equal([KeyA], Keys(keys));
        Assert.Equal(3u, Generation(keys));
        (await OutAsync(h, A, Register, 0, KeyA, 0)).Good(); // unregister
        Assert.Empty(Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data));
        (await OutAsync(h, B, Register, 0, 0, 0)).Good(); // unregistered, zero key: nothing happens
    }

    [Fact]
    public async Task Parameter_list_length_and_field_checks()
    {
        await using var h = new ScsiHarness();
        (await h.RunAsync(Out(Register, 0, 20), dataOut: new byte[20])).Check(SenseCodes.ParameterListLengthError);
        (await h.RunAsync(Out(Register, 0, 28), dataOut: new byte[28])).Check(SenseCodes.ParameterListLengthError);
        await RegisterAsync(h, A, KeyA);
        (await OutAsync(h, A, Reserve, 2, KeyA)).InvalidCdbField(2, 3); // invalid type
        (await h.RunAsync(Out(Reserve, 0x11), dataOut: Parameters(KeyA, 0))).InvalidCdbField(2, 7); // scope
        (await h.RunAsync(Out(RegisterAndIgnore, 0), dataOut: Parameters(0, KeyA, aptpl: true))).Check(SenseCodes.InvalidFieldInParameterList); // no state path
        (await h.RunAsync(In(4), dataIn: 64)).InvalidCdbField(1, 4);
        (await h.RunAsync([0x5F, 8, 0, 0, 0, 0, 0, 0, 24, 0], dataOut: new byte[24])).InvalidCdbField(1, 4);
    }

    [Fact]
    public async Task Reserve_release_rules()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        (await OutAsync(h, C, Reserve, 1, 0)).Conflict();        // not registered
        (await OutAsync(h, A, Reserve, 1, KeyB)).Conflict();     // wrong key
        (await OutAsync(h, A, Reserve, 1, KeyA)).Good();
        (await OutAsync(h, A, Reserve, 1, KeyA)).Good();         // same type again: no-op
        (await OutAsync(h, A, Reserve, 3, KeyA)).Conflict();     // different type
        (await OutAsync(h, B, Reserve, 1, KeyB)).Conflict();     // someone else holds it
        (await OutAsync(h, B, Release, 1, KeyB)).Good();         // not the holder: no-op
        (await OutAsync(h, A, Release, 3, KeyA)).Check(SenseCodes.InvalidReleaseOfPersistentReservation);
        (await OutAsync(h, A, Release, 1, KeyA)).Good();
        Assert.Equal(8u, (uint)(await h.RunAsync(In(ReadReservation), dataIn: 64)).Good().Data.Length);
    }

    [Fact]
    public async Task Releasing_a_registrants_only_reservation_tells_the_other_registrants()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        (await OutAsync(h, A, Reserve, 5, KeyA)).Good();
        (await OutAsync(h, A, Release, 5, KeyA)).Good();
        (await h.RunAsync(TestUnitReady, nexus: B)).Check(SenseCodes.ReservationsReleased);
        (await h.RunAsync(TestUnitReady, nexus: A)).Good();
    }

    [Fact]
    public async Task Unregistering_the_holder_releases_the_reservation()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        (await OutAsync(h, A, Reserve, 3, KeyA)).Good();
        (await OutAsync(h, A, Register, 0, KeyA, 0)).Good();
        Assert.Equal((true, true), await AccessAsync(h, B));
    }

    [Fact]
    public async Task Clear_removes_everything_and_raises_reservations_preempted()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        (await OutAsync(h, A, Reserve, 3, KeyA)).Good();
        (await OutAsync(h, B, Clear, 0, KeyA)).Conflict(); // wrong key for B
        (await OutAsync(h, B, Clear, 0, KeyB)).Good();
        (await h.RunAsync(TestUnitReady, nexus: A)).Check(SenseCodes.ReservationsPreempted);
        Assert.Empty(Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data));
        Assert.Equal((true, true), await AccessAsync(h, A));
    }

    [Fact]
    public async Task Preempt_removes_registrations_and_takes_over_the_reservation()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        uint before = Generation((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data);

        // No reservation: preempting removes the registration only.
        (await OutAsync(h, B, Preempt, 3, KeyB, KeyA)).Good();
        (await h.RunAsync(TestUnitReady, nexus: A)).Check(SenseCodes.RegistrationsPreempted);
        var keys = (await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data;
        Assert.Equal([KeyB], Keys(keys));
        Assert.Equal(before + 1, Generation(keys));

        // With a reservation held by A: B preempts A's key and becomes the holder.
        await RegisterAsync(h, A, KeyA);
        (await OutAsync(h, A, Reserve, 1, KeyA)).Good();
        (await OutAsync(h, B, Preempt, 3, KeyB, 0)).Check(SenseCodes.InvalidFieldInParameterList);
        (await OutAsync(h, B, Preempt, 3, KeyB, 0x9999)).Conflict();
        (await OutAsync(h, B, PreemptAndAbort, 3, KeyB, KeyA)).Good();
        var reservation = (await h.RunAsync(In(ReadReservation), dataIn: 64, nexus: B)).Good().Data;
        Assert.Equal(KeyB, BinaryPrimitives.ReadUInt64BigEndian(reservation.AsSpan(8)));
        Assert.Equal(3, reservation[21]);
        (await h.RunAsync(TestUnitReady, nexus: A)).Check(SenseCodes.RegistrationsPreempted);
        Assert.Equal((false, false), await AccessAsync(h, A));
    }

    [Fact]
    public async Task Preempting_an_all_registrants_reservation_with_key_zero_removes_every_other_registrant()
    {
        await using var h = new ScsiHarness();
        h.Target.NexusCreated(C);
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        await RegisterAsync(h, C, 0xCCCC);
        (await OutAsync(h, A, Reserve, 8, KeyA)).Good();
        (await OutAsync(h, B, Preempt, 1, KeyB, 0)).Good();
        Assert.Equal([KeyB], Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024, nexus: B)).Good().Data));
        (await h.RunAsync(TestUnitReady, nexus: C)).Check(SenseCodes.RegistrationsPreempted);
        Assert.Equal((true, false), await AccessAsync(h, C)); // now Write Exclusive held by B
    }

    [Fact]
    public async Task Spec_i_pt_registers_the_named_initiator_ports()
    {
        await using var h = new ScsiHarness();
        byte[] ids = [.. TransportId(B.InitiatorName, B.Isid), .. TransportId("iqn.2026-01.test:host-d")];
        (await h.RunAsync(Out(Register, 0, 24 + 4 + ids.Length), dataOut: Parameters(0, KeyA, specIpt: true, transportIds: ids))).Good();
        Assert.Equal([KeyA, KeyA, KeyA], Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data));
        (await OutAsync(h, B, Reserve, 1, KeyA)).Good(); // B was registered on its behalf

        // A TransportID that is already registered is refused, and nothing is added.
        (await h.RunAsync(Out(Register, 0, 24 + 4 + ids.Length), dataOut: Parameters(0, KeyA, specIpt: true, transportIds: ids), nexus: C)).Check(SenseCodes.InvalidFieldInParameterList);
        var bad = TransportId("iqn.x");
        bad[0] = 0x01; // Fibre Channel
        (await h.RunAsync(Out(Register, 0, 24 + 4 + bad.Length), dataOut: Parameters(0, KeyB, specIpt: true, transportIds: bad), nexus: C)).Check(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal(3, Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data).Count);
    }

    [Fact]
    public async Task Register_and_move_hands_the_reservation_to_another_port()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        (await OutAsync(h, A, Reserve, 3, KeyA)).Good();
        var move = MoveParameters(KeyA, KeyB, 1, TransportId(B.InitiatorName, B.Isid), unregister: true);
        (await h.RunAsync(Out(RegisterAndMove, 3, move.Length), dataOut: move)).Good();
        Assert.Equal((true, true), await AccessAsync(h, B));
        Assert.Equal((false, false), await AccessAsync(h, A));
        Assert.Equal([KeyB], Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data));
    }

    [Fact]
    public async Task Report_capabilities_and_full_status()
    {
        await using var h = new ScsiHarness();
        var caps = (await h.RunAsync(In(ReportCapabilities), dataIn: 8)).Good().Data;
        Assert.Equal(8, BinaryPrimitives.ReadUInt16BigEndian(caps));
        Assert.Equal(0x0C, caps[2] & 0x0D); // SIP_C, ATP_C, no PTPL_C without a state path
        Assert.Equal(0xEA, caps[4]);
        Assert.Equal(0x01, caps[5]);

        await RegisterAsync(h, A, KeyA);
        (await h.RunAsync(Out(RegisterAndIgnore, 0), dataOut: Parameters(0, KeyB, allTargetPorts: true), nexus: B)).Good();
        (await OutAsync(h, A, Reserve, 1, KeyA)).Good();
        var full = (await h.RunAsync(In(ReadFullStatus), dataIn: 1024)).Good().Data;
        Assert.Equal(full.Length - 8, (int)BinaryPrimitives.ReadUInt32BigEndian(full.AsSpan(4)));
        Assert.Equal(KeyA, BinaryPrimitives.ReadUInt64BigEndian(full.AsSpan(8)));
        Assert.Equal(0x01, full[20]); // R_HOLDER
        Assert.Equal(1, full[21]);
        int tid = (int)BinaryPrimitives.ReadUInt32BigEndian(full.AsSpan(28));
        Assert.Equal(0x45, full[32]); // format 01, iSCSI
        int second = 8 + 24 + tid;
        Assert.Equal(0x02, full[second + 12]); // ALL_TG_PT
    }

    [Fact]
    public async Task Read_keys_truncates_to_the_allocation_length()
    {
        await using var h = new ScsiHarness();
        await RegisterAsync(h, A, KeyA);
        await RegisterAsync(h, B, KeyB);
        var r = (await h.RunAsync(In(ReadKeys, allocation: 12), dataIn: 12)).Good();
        Assert.Equal(12, r.TransferLength);
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(r.DataIn.AsSpan(4)));
    }

    [Fact]
    public async Task Aptpl_state_survives_a_new_logical_unit_and_is_deleted_when_cleared()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"tandem-pr-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "pr.json");
            var options = new LogicalUnitOptions { ReservationStatePath = path };
            await using (var h = new ScsiHarness(options: options))
            {
                Assert.Equal(0x01, (await h.RunAsync(In(ReportCapabilities), dataIn: 8)).Good().Data[2] & 0x01);
                await RegisterAsync(h, A, KeyA, aptpl: true);
                await RegisterAsync(h, B, KeyB, aptpl: true);
                (await OutAsync(h, A, Reserve, 6, KeyA)).Good();
                Assert.True(File.Exists(path));
            }

            await using (var h = new ScsiHarness(options: options))
            {
                Assert.Equal(0x01, (await h.RunAsync(In(ReportCapabilities), dataIn: 8)).Good().Data[3] & 0x01); // PTPL_A
                Assert.Equal([KeyA, KeyB], Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data));
                var reservation = (await h.RunAsync(In(ReadReservation), dataIn: 64)).Good().Data;
                Assert.Equal(KeyA, BinaryPrimitives.ReadUInt64BigEndian(reservation.AsSpan(8)));
                Assert.Equal(6, reservation[21]);
                Assert.Equal((true, true), await AccessAsync(h, B));
                var c = C;
                h.Target.NexusCreated(c);
                Assert.Equal((false, false), await AccessAsync(h, c));

                // The last registration asks not to persist: the saved state goes away.
                (await h.RunAsync(Out(Register, 0), dataOut: Parameters(KeyB, KeyB + 1, aptpl: false), nexus: B)).Good();
                Assert.False(File.Exists(path));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"version\":1,\"generation\":3,\"registrations\":[{\"initiatorName\":\"\",\"key\":1}],\"reservationType\":null,\"holderIndex\":-1}")]
    [InlineData("{\"version\":1,\"generation\":3,\"registrations\":[],\"reservationType\":3,\"holderIndex\":4}")]
    [InlineData("{\"version\":9}")]
    public async Task Damaged_state_file_starts_without_reservations(string content)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"tandem-pr-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "pr.json");
            await File.WriteAllTextAsync(path, content);
            await using var h = new ScsiHarness(options: new LogicalUnitOptions { ReservationStatePath = path });
            Assert.Empty(Keys((await h.RunAsync(In(ReadKeys), dataIn: 1024)).Good().Data));
            Assert.Equal((true, true), await AccessAsync(h, A));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
