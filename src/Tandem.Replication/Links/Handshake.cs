using Tandem.Storage.Native;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Tandem.Replication.Wire;

namespace Tandem.Replication.Links;

/// <summary>The opening of a replication link, as the dialing node states it.</summary>
/// <param name="DeviceNaa">NAA identifier (16 bytes) of the HA device: the same on every replica.</param>
/// <param name="Channel">Whether the link is a synchronization channel or a heartbeat channel.</param>
public sealed record Hello(Guid ClusterId, int SenderId, int ReceiverId, byte[] Nonce, byte[] DeviceNaa, ChannelKind Channel = ChannelKind.Sync);

/// <summary>What a replication link carries (SPEC §6 "Network": synchronization and heartbeat channels).</summary>
public enum ChannelKind : byte
{
    /// <summary>Writes, resync, control: the replica set's data path.</summary>
    Sync = 0,
    /// <summary>Heartbeats and failover messages only, on a network of its own (docs/design/failover.md).</summary>
    Heartbeat = 1,
}

/// <summary>
/// Mutual authentication of a replication link. The dialer sends Hello (cluster id, replica ids,
/// device, nonce); the listener answers HelloAck with its own nonce and an HMAC-SHA256 proof over
/// both nonces and the Hello; the dialer checks it and answers HelloProof, its own HMAC. Each side
/// proves it knows the cluster secret without sending it, and the role label in each HMAC stops a
/// proof from being reflected back.
/// </summary>
public static class Handshake
{
    /// <summary>2: the Hello names its channel kind, and failover messages exist.</summary>
    public const ushort ProtocolVersion = 2;
    private const int NonceLength = 32;
    private const int NaaLength = 16;
    private const int HelloLength = 4 + 16 + 4 + 4 + NonceLength + NaaLength;
    private const int ProofLength = 32;
    private const int AckLength = 4 + NonceLength + ProofLength;

    /// <summary>Dialer side. Returns when the listener is authenticated and has accepted us.</summary>
    /// <exception cref="ReplicationRejectedException">The listener refused, or failed to prove the secret.</exception>
    public static void Dial(Stream stream, FrameReader reader, ClusterCredentials cluster, int localId, int peerId, byte[] deviceNaa,
        int timeoutMilliseconds, ChannelKind channel = ChannelKind.Sync)
    {
        var hello = new Hello(cluster.ClusterId, localId, peerId, RandomNumberGenerator.GetBytes(NonceLength), deviceNaa, channel);
        Send(stream, FrameType.Hello, EncodeHello(hello));

        var (type, payload) = Receive(reader, timeoutMilliseconds);
        if (type == FrameType.Reject)
            throw new ReplicationRejectedException($"Replica {peerId} refused the link: {DecodeReason(payload)}");
        if (type != FrameType.HelloAck || payload.Length != AckLength)
            throw new ReplicationRejectedException($"Replica {peerId} answered the handshake with {type}.");
        int answeringId = BinaryPrimitives.ReadInt32BigEndian(payload);
        byte[] listenerNonce = payload.AsSpan(4, NonceLength).ToArray();
        byte[] proof = payload.AsSpan(4 + NonceLength, ProofLength).ToArray();
        if (answeringId != peerId)
            throw new ReplicationRejectedException($"Expected replica {peerId}, but replica {answeringId} answered.");
        if (!CryptographicOperations.FixedTimeEquals(proof, Proof(cluster, "listener", hello, listenerNonce)))
        {
            TryReject(stream, "authentication failed");
            throw new ReplicationRejectedException($"Replica {peerId} failed to prove the cluster secret (another cluster, or a wrong secret).");
        }
        Send(stream, FrameType.HelloProof, Proof(cluster, "dialer", hello, listenerNonce));
    }

    /// <summary>Listener side, first step: reads the Hello so the caller can find the device it names.</summary>
    public static Hello ReadHello(FrameReader reader, int timeoutMilliseconds)
    {
        var (type, payload) = Receive(reader, timeoutMilliseconds);
        if (type != FrameType.Hello || payload.Length != HelloLength)
            throw new ReplicationRejectedException($"Expected a Hello of {HelloLength} bytes, got {type} of {payload.Length}.");
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (version != ProtocolVersion)
            throw new ReplicationRejectedException($"Replication protocol version {version} is not supported (this node speaks {ProtocolVersion}).");
        var span = payload.AsSpan();
        byte channel = span[2];
        if (channel > (byte)ChannelKind.Heartbeat)
            throw new ReplicationRejectedException($"Unknown channel kind {channel} in the Hello.");
        return new Hello(
            new Guid(span.Slice(4, 16), bigEndian: true),
            BinaryPrimitives.ReadInt32BigEndian(span[20..]),
            BinaryPrimitives.ReadInt32BigEndian(span[24..]),
            span.Slice(28, NonceLength).ToArray(),
            span.Slice(28 + NonceLength, NaaLength).ToArray(),
            (ChannelKind)channel);
    }

    /// <summary>Listener side, second step: proves ourselves and checks the dialer's proof.</summary>
    public static void Accept(Stream stream, FrameReader reader, ClusterCredentials cluster, Hello hello, int timeoutMilliseconds)
    {
        if (hello.ClusterId != cluster.ClusterId)
        {
            TryReject(stream, "the node belongs to another cluster");
            throw new ReplicationRejectedException($"A node of cluster {hello.ClusterId} tried to connect; this node belongs to cluster {cluster.ClusterId}.");
        }
        byte[] nonce = RandomNumberGenerator.GetBytes(NonceLength);
        byte[] ack = new byte[AckLength];
        BinaryPrimitives.WriteInt32BigEndian(ack, hello.ReceiverId);
        nonce.CopyTo(ack, 4);
        Proof(cluster, "listener", hello, nonce).CopyTo(ack, 4 + NonceLength);
        Send(stream, FrameType.HelloAck, ack);

        var (type, payload) = Receive(reader, timeoutMilliseconds);
        if (type == FrameType.Reject)
            throw new ReplicationRejectedException($"Replica {hello.SenderId} refused the link: {DecodeReason(payload)}");
        if (type != FrameType.HelloProof || payload.Length != ProofLength ||
            !CryptographicOperations.FixedTimeEquals(payload, Proof(cluster, "dialer", hello, nonce)))
        {
            TryReject(stream, "authentication failed");
            throw new ReplicationRejectedException($"Replica {hello.SenderId} failed to prove the cluster secret.");
        }
    }

    /// <summary>Tells the other side why we refuse; best effort (it may already be gone).</summary>
    public static void TryReject(Stream stream, string reason)
    {
        try
        {
            Send(stream, FrameType.Reject, Encoding.UTF8.GetBytes(reason));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
    }

    private static byte[] EncodeHello(Hello hello)
    {
        byte[] bytes = new byte[HelloLength];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(span, ProtocolVersion);
        span[2] = (byte)hello.Channel;
        hello.ClusterId.TryWriteBytes(span.Slice(4, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteInt32BigEndian(span[20..], hello.SenderId);
        BinaryPrimitives.WriteInt32BigEndian(span[24..], hello.ReceiverId);
        hello.Nonce.CopyTo(span[28..]);
        hello.DeviceNaa.CopyTo(span[(28 + NonceLength)..]);
        return bytes;
    }

    private static byte[] Proof(ClusterCredentials cluster, string role, Hello hello, byte[] listenerNonce)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, cluster.Secret);
        hmac.AppendData(Encoding.ASCII.GetBytes("tandem-replication-v1/" + role));
        hmac.AppendData(EncodeHello(hello));
        hmac.AppendData(listenerNonce);
        return hmac.GetHashAndReset();
    }

    private static string DecodeReason(byte[] payload) =>
        payload.Length == 0 ? "no reason given" : Encoding.UTF8.GetString(payload, 0, Math.Min(payload.Length, 512));

    // Synchronous on purpose: a link's socket must never see an asynchronous operation, or .NET
    // registers it with its event loop and every later arrival wakes that loop for nothing.
    private static void Send(Stream stream, FrameType type, byte[] payload)
    {
        var buffer = new FrameBuffer(FrameHeader.Overhead + payload.Length);
        buffer.Append(type, 0, 0, 0, new BytesPayload(payload));
        buffer.SendTo(bytes => BlockingSocket.SendAll(stream, bytes));
    }

    private static (FrameType Type, byte[] Payload) Receive(FrameReader reader, int timeoutMilliseconds)
    {
        while (true)
        {
            if (reader.TryRead(out var header, out var payload))
            {
                if (payload.Length > 4096)
                    throw new ReplicationRejectedException($"Handshake frame {header.Type} of {payload.Length} bytes is too large.");
                return (header.Type, payload.ToArray());
            }
            if (!reader.Fill(timeoutMilliseconds))
                throw new EndOfStreamException("The replication link closed during the handshake.");
        }
    }
}
