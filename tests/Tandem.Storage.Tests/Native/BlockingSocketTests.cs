using System.Net;
using System.Net.Sockets;
using Tandem.Storage.Native;

namespace Tandem.Storage.Tests.Native;

/// <summary>Gather-sends and waits of <see cref="BlockingSocket"/> over a real loopback TCP connection.</summary>
public sealed class BlockingSocketTests : IDisposable
{
    private readonly Socket _sender;
    private readonly Socket _receiver;

    public BlockingSocketTests()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        // A small receive buffer on the far side, so that the sender's socket fills up quickly.
        _receiver = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
        _receiver.Connect(listener.LocalEndPoint!);
        _sender = listener.Accept();
        _sender.SendBufferSize = 16 * 1024;
    }

    public void Dispose()
    {
        _sender.Dispose();
        _receiver.Dispose();
    }

    /// <summary>Segments of odd sizes and offsets into shared arrays, more than one sendmsg(2) takes.</summary>
    private static (List<ArraySegment<byte>> Segments, byte[] Expected) Scatter(int count, int seed)
    {
        var random = new Random(seed);
        byte[] shared = new byte[8192];
        random.NextBytes(shared);
        var segments = new List<ArraySegment<byte>>();
        var expected = new MemoryStream();
        for (int i = 0; i < count; i++)
        {
            byte[] array = i % 3 == 0 ? shared : RandomArray(random, 1 + random.Next(3000));
            int offset = random.Next(array.Length);
            int length = 1 + random.Next(array.Length - offset);
            segments.Add(new ArraySegment<byte>(array, offset, length));
            expected.Write(array, offset, length);
        }
        return (segments, expected.ToArray());
    }

    private static byte[] RandomArray(Random random, int length)
    {
        byte[] array = new byte[length];
        random.NextBytes(array);
        return array;
    }

    private byte[] ReceiveExactly(int length)
    {
        byte[] received = new byte[length];
        int at = 0;
        while (at < length)
        {
            int n = _receiver.Receive(received.AsSpan(at));
            Assert.True(n > 0, "the stream ended early");
            at += n;
        }
        return received;
    }

    [Fact]
    public async Task A_gather_send_longer_than_one_sendmsg_arrives_whole_and_in_order()
    {
        (List<ArraySegment<byte>> segments, byte[] expected) = Scatter(BlockingSocket.MaxBuffersPerSend * 2 + 17, seed: 1);
        Task<byte[]> reading = Task.Run(() => ReceiveExactly(expected.Length));
        BlockingSocket.SendAll(_sender, segments, 0);
        Assert.Equal(expected, await reading);
    }

    [Fact]
    public async Task A_full_socket_stops_a_try_send_part_way_and_the_rest_follows_from_there()
    {
        (List<ArraySegment<byte>> segments, byte[] expected) = Scatter(600, seed: 2);
        Assert.True(expected.Length > 256 * 1024, "the data must not fit in the socket buffers");

        long sent = 0;
        Assert.False(BlockingSocket.TrySend(_sender, segments, ref sent));
        Assert.InRange(sent, 1, expected.Length - 1);

        Task<byte[]> reading = Task.Run(() => ReceiveExactly(expected.Length));
        BlockingSocket.SendAll(_sender, segments, sent);
        Assert.Equal(expected, await reading);
    }

    [Fact]
    public async Task Try_send_resumes_inside_a_segment()
    {
        (List<ArraySegment<byte>> segments, byte[] expected) = Scatter(20, seed: 3);
        long sent = segments[0].Count + 3; // as if the first segment and 3 bytes of the second had gone out
        int rest = expected.Length - (int)sent;
        Task<byte[]> reading = Task.Run(() => ReceiveExactly(rest));
        Assert.True(BlockingSocket.TrySend(_sender, segments, ref sent));
        Assert.Equal(expected.Length, sent);
        Assert.Equal(expected[(segments[0].Count + 3)..], await reading);
    }

    [Fact]
    public async Task A_receive_waiting_for_data_ends_when_the_socket_is_shut_down()
    {
        Task<int> waiting = Task.Run(() => BlockingSocket.Receive(_sender, new byte[100]));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        _sender.Shutdown(SocketShutdown.Both);
        Assert.Equal(0, await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_send_waiting_for_room_fails_when_the_socket_is_closed()
    {
        (List<ArraySegment<byte>> segments, _) = Scatter(600, seed: 4);
        Task waiting = Task.Run(() => BlockingSocket.SendAll(_sender, segments, 0));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        _sender.Shutdown(SocketShutdown.Both);
        _sender.Close();
        Exception? failure = await Record.ExceptionAsync(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(failure is SocketException or ObjectDisposedException, $"unexpected: {failure}");
    }

    [Fact]
    public void Data_sent_is_received_and_an_ended_stream_reads_as_zero()
    {
        BlockingSocket.SendAll(_receiver, "hello"u8);
        _receiver.Shutdown(SocketShutdown.Send);
        byte[] buffer = new byte[16];
        int n = BlockingSocket.Receive(_sender, buffer);
        Assert.Equal("hello"u8.ToArray(), buffer[..n]);
        Assert.Equal(0, BlockingSocket.Receive(_sender, buffer));
    }

    [Fact]
    public async Task A_receive_with_a_deadline_times_out_when_nothing_arrives()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Task<int> waiting = Task.Run(() => BlockingSocket.Receive(_sender, new byte[100], timeoutMilliseconds: 300));
        await Assert.ThrowsAsync<TimeoutException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(clock.ElapsedMilliseconds >= 300, $"gave up after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task A_receive_waiting_inside_recv_ends_when_the_socket_is_closed_without_a_shutdown()
    {
        // close(2) alone does not wake a thread blocked in recv(2): the receive timeout must.
        Task<int> waiting = Task.Run(() => BlockingSocket.Receive(_sender, new byte[100]));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        _sender.Close();
        Exception? failure = await Record.ExceptionAsync(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(failure is SocketException or ObjectDisposedException, $"unexpected: {failure}");
    }

    [Fact]
    public async Task A_socket_connected_asynchronously_still_waits_for_data_and_for_its_deadline()
    {
        // .NET leaves a socket that saw an asynchronous call non-blocking at the OS level.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = listener.Accept();

        Assert.Throws<TimeoutException>(() => BlockingSocket.Receive(client, new byte[16], timeoutMilliseconds: 100));
        Task<int> waiting = Task.Run(() => BlockingSocket.Receive(client, new byte[16]));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        BlockingSocket.SendAll(server, "late"u8);
        Assert.Equal(4, await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
