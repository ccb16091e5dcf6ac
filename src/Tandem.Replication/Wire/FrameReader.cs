using Tandem.Storage.Native;
using Tandem.Storage.Checksums;

namespace Tandem.Replication.Wire;

/// <summary>
/// Reads frames from a stream into one growing buffer and hands them out in batches: every frame
/// already received is returned by <see cref="TryRead"/> without I/O, so the caller can answer a
/// whole batch with one send. A returned payload stays valid until the next <see cref="Fill"/>.
/// </summary>
public sealed class FrameReader(Stream stream, int initialBufferSize = 256 * 1024)
{
    private byte[] _buffer = new byte[initialBufferSize];
    private int _start;
    private int _end;

    /// <summary>
    /// Grows the buffer so that one read can bring several large frames (a link after its
    /// handshake, which is read with a small buffer). Call between batches only.
    /// </summary>
    public void EnsureCapacity(int bytes)
    {
        if (_buffer.Length >= bytes)
            return;
        var bigger = new byte[bytes];
        _buffer.AsSpan(_start, _end - _start).CopyTo(bigger);
        (_buffer, _end, _start) = (bigger, _end - _start, 0);
    }

    /// <summary>Returns the next complete frame in the buffer, or false when more bytes are needed.</summary>
    /// <exception cref="InvalidDataException">The peer sent a malformed frame (the link must be closed).</exception>
    public bool TryRead(out FrameHeader header, out ReadOnlyMemory<byte> payload)
    {
        payload = default;
        header = default;
        int available = _end - _start;
        if (available < FrameHeader.Size)
            return false;
        ReadOnlySpan<byte> at = _buffer.AsSpan(_start, available);
        if (!FrameHeader.TryRead(at, out header, out string? error))
            throw new InvalidDataException($"Malformed replication frame: {error}.");
        if (available < header.Length)
            return false;
        int crcAt = header.Length - FrameHeader.TrailerSize;
        uint expected = Crc32C.Read(at[crcAt..]);
        if (FrameHeader.Checksum(at, at[FrameHeader.Size..crcAt]) != expected)
            throw new InvalidDataException($"Replication frame ({header.Type}, {header.Length} bytes) failed its CRC32C check.");
        payload = new ReadOnlyMemory<byte>(_buffer, _start + FrameHeader.Size, header.PayloadLength);
        _start += header.Length;
        return true;
    }

    /// <summary>
    /// Reads more bytes, blocking (a link's own thread, the handshake); false at end of stream.
    /// Invalidates payloads returned before. Sockets are read with poll/recv so that .NET never
    /// registers them with its event loop.
    /// </summary>
    public bool Fill(int timeoutMilliseconds = -1)
    {
        Compact();
        int read = stream is System.Net.Sockets.NetworkStream network
            ? BlockingSocket.Receive(network.Socket, _buffer.AsSpan(_end), timeoutMilliseconds)
            : stream.Read(_buffer.AsSpan(_end));
        if (read == 0)
            return false;
        _end += read;
        return true;
    }

    /// <summary>Moves the unread tail to the front and grows the buffer when a frame needs more room.</summary>
    private void Compact()
    {
        int available = _end - _start;
        int needed = FrameHeader.Size;
        if (available >= FrameHeader.Size && FrameHeader.TryRead(_buffer.AsSpan(_start, available), out var header, out _))
            needed = header.Length;
        if (needed > _buffer.Length / 2)
        {
            // Room for at least two frames, so that one read is not limited to the tail of one.
            var bigger = new byte[Math.Max(needed * 2, _buffer.Length * 2)];
            _buffer.AsSpan(_start, available).CopyTo(bigger);
            _buffer = bigger;
        }
        else if (_start > 0)
        {
            _buffer.AsSpan(_start, available).CopyTo(_buffer);
        }
        else
        {
            return;
        }
        _start = 0;
        _end = available;
    }
}
