using Tandem.Replication.Failover;

namespace Tandem.Replication.Tests.Failover;

public sealed class LeaseRecordTests
{
    private const string Device = "6001405aa1b2c3d4";
    private static readonly LeaseRecord Sample = new(42, new WitnessBallotState(1, "0123456789abcdef", 1), 1, "00ff");

    [Fact]
    public void RoundTrips()
    {
        Assert.Equal(Sample, LeaseRecord.Decode(Sample.Encode(Device), Device, 42, out _));
        var released = Sample with { State = new WitnessBallotState(null, null, null) };
        Assert.Equal(released, LeaseRecord.Decode(released.Encode(Device), Device, 42, out _));
    }

    [Fact]
    public void EveryChangedByteAndEveryCutIsUnreadable()
    {
        byte[] bytes = Sample.Encode(Device);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] changed = (byte[])bytes.Clone();
            changed[i] ^= 0x01;
            Assert.Null(LeaseRecord.Decode(changed, Device, 42, out _));
            Assert.Null(LeaseRecord.Decode(bytes.AsSpan(0, i), Device, 42, out _));
        }
    }

    [Fact]
    public void RecordOfAnotherDeviceOrPlaceIsUnreadable()
    {
        byte[] bytes = Sample.Encode(Device);
        Assert.Null(LeaseRecord.Decode(bytes, "6001405aa1b2c3d5", 42, out string problem));
        Assert.Contains("device", problem);
        Assert.Null(LeaseRecord.Decode(bytes, Device, 43, out problem));
        Assert.Contains("sequence", problem);
    }
}
