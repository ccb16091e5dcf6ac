using Tandem.Replication.Wire;
using Tandem.Storage.Checksums;

namespace Tandem.Replication.Tests.Wire;

/// <summary>Frames as encoded by <see cref="FrameBuffer"/> (owned and prepared) and read back by <see cref="FrameReader"/>.</summary>
public sealed class FrameTests
{
    [Fact]
    public void Owned_and_prepared_frames_arrive_in_queue_order()
    {
        var buffer = new FrameBuffer(64);
        buffer.Append(FrameType.Control, 0, 1, 10, new BytesPayload("first"u8.ToArray()));
        var bulk = Prepared(lba: 42, fill: 0xA5, bytes: 3 * 4096);
        buffer.Append(bulk, 0, 2, 11);
        buffer.Append(FrameType.Heartbeat, 0, 0, 12, new EmptyPayload());
        buffer.Append(FrameType.Control, 0, 3, 13, new BytesPayload(new byte[1000])); // grows the owned bytes after a prepared frame
        buffer.Append(Prepared(lba: 7, fill: 0x3C, bytes: 512), 0, 4, 14);

        var frames = ReadAll(buffer);

        Assert.Equal([FrameType.Control, FrameType.SyncData, FrameType.Heartbeat, FrameType.Control, FrameType.SyncData], frames.Select(f => f.Header.Type));
        Assert.Equal([10L, 11, 12, 13, 14], frames.Select(f => f.Header.SenderClock));
        Assert.Equal("first"u8.ToArray(), frames[0].Payload);
        Assert.True(SyncDataMessage.TryRead(frames[1].Payload, out var sync));
        Assert.Equal(42, sync.Lba);
        Assert.True(sync.Data.Span.IndexOfAnyExcept((byte)0xA5) < 0);
        Assert.Equal(3 * 4096, sync.Data.Length);
        Assert.Equal(1000, frames[3].Payload.Length);
        Assert.True(SyncDataMessage.TryRead(frames[4].Payload, out var small));
        Assert.Equal(7, small.Lba);
    }

    [Fact]
    public void The_check_covers_payload_then_header()
    {
        var buffer = new FrameBuffer();
        byte[] payload = [1, 2, 3, 4, 5];
        buffer.Append(FrameType.Control, 0, 9, 77, new BytesPayload(payload));
        byte[] wire = Bytes(buffer);

        uint crc = Crc32C.Append(Crc32C.Seed, payload);
        uint expected = Crc32C.Finish(Crc32C.Append(crc, wire.AsSpan(0, FrameHeader.Size)));
        Assert.Equal(expected, Crc32C.Read(wire.AsSpan(wire.Length - FrameHeader.TrailerSize)));
    }

    [Theory]
    [InlineData(12)]     // header: request id
    [InlineData(30)]     // payload (LBA)
    [InlineData(5000)]   // payload (data)
    [InlineData(-1)]     // trailer
    public void A_flipped_bit_anywhere_fails_the_check(int at)
    {
        var buffer = new FrameBuffer();
        buffer.Append(Prepared(lba: 1, fill: 0x11, bytes: 8192), 0, 1, 1);
        byte[] wire = Bytes(buffer);
        int index = at < 0 ? wire.Length + at : at;
        wire[index] ^= 0x10;

        var reader = new FrameReader(new MemoryStream(wire));
        Assert.True(reader.Fill());
        Assert.ThrowsAny<InvalidDataException>(() => reader.TryRead(out _, out _));
    }

    [Fact]
    public void An_unsealed_prepared_frame_is_refused()
    {
        var frame = SyncDataMessage.Prepare(0, 512);
        Assert.Throws<InvalidOperationException>(() => new FrameBuffer().Append(frame, 0, 1, 1));
    }

    private static PreparedFrame Prepared(long lba, byte fill, int bytes)
    {
        var frame = SyncDataMessage.Prepare(lba, bytes);
        frame.Payload.Span[SyncDataMessage.FixedSize..].Fill(fill);
        frame.Seal();
        return frame;
    }

    private static byte[] Bytes(FrameBuffer buffer)
    {
        var stream = new MemoryStream();
        buffer.SendTo(bytes => stream.Write(bytes));
        Assert.Equal(buffer.Length, stream.Length);
        return stream.ToArray();
    }

    private static List<(FrameHeader Header, byte[] Payload)> ReadAll(FrameBuffer buffer)
    {
        var reader = new FrameReader(new MemoryStream(Bytes(buffer)), 128);
        var frames = new List<(FrameHeader, byte[])>();
        while (reader.Fill())
        {
            while (reader.TryRead(out var header, out var payload))
                frames.Add((header, payload.ToArray()));
        }
        return frames;
    }
}
