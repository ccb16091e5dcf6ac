using System.Buffers.Binary;
using Tandem.Replication.Links;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Tests.Failover;

/// <summary>The Hello names its channel kind (sync or heartbeat); anything else is refused.</summary>
public sealed class HeartbeatHandshakeTests
{
    private static MemoryStream HelloFrame(byte channel, ushort version = Handshake.ProtocolVersion)
    {
        byte[] payload = new byte[4 + 16 + 4 + 4 + 32 + 16];
        BinaryPrimitives.WriteUInt16BigEndian(payload, version);
        payload[2] = channel;
        Guid.NewGuid().TryWriteBytes(payload.AsSpan(4, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(20), 1);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(24), 2);
        var buffer = new FrameBuffer();
        buffer.Append(FrameType.Hello, 0, 0, 0, new BytesPayload(payload));
        var stream = new MemoryStream();
        buffer.SendTo(bytes => stream.Write(bytes));
        stream.Position = 0;
        return stream;
    }

    [Theory]
    [InlineData((byte)0, ChannelKind.Sync)]
    [InlineData((byte)1, ChannelKind.Heartbeat)]
    public void A_hello_names_its_channel(byte channel, ChannelKind expected)
    {
        var hello = Handshake.ReadHello(new FrameReader(HelloFrame(channel)), 1000);
        Assert.Equal(expected, hello.Channel);
        Assert.Equal((1, 2), (hello.SenderId, hello.ReceiverId));
    }

    [Fact]
    public void An_unknown_channel_kind_is_refused() =>
        Assert.Contains("Unknown channel kind 7", Assert.Throws<ReplicationRejectedException>(() => Handshake.ReadHello(new FrameReader(HelloFrame(7)), 1000)).Message);

    [Fact]
    public void A_node_of_the_version_before_channels_is_refused() =>
        Assert.Contains("version 1 is not supported", Assert.Throws<ReplicationRejectedException>(() => Handshake.ReadHello(new FrameReader(HelloFrame(0, version: 1)), 1000)).Message);
}
