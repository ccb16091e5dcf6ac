using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Tandem.Iscsi.Connections;

/// <summary>
/// A reusable gather-send on a socket: one <see cref="SocketAsyncEventArgs"/> per connection, awaited as a
/// <see cref="ValueTask{TResult}"/> without allocating.
/// </summary>
internal sealed class SocketSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _source;

    public SocketSender() : base(unsafeSuppressExecutionContextFlow: true)
    {
        _source.RunContinuationsAsynchronously = true;
    }

    public ValueTask<int> SendAsync(Socket socket, List<ArraySegment<byte>> buffers)
    {
        BufferList = null;
        BufferList = buffers;
        _source.Reset();
        if (socket.SendAsync(this))
            return new ValueTask<int>(this, _source.Version);
        return SocketError == SocketError.Success
            ? new ValueTask<int>(BytesTransferred)
            : ValueTask.FromException<int>(new SocketException((int)SocketError));
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success)
            _source.SetResult(BytesTransferred);
        else
            _source.SetException(new SocketException((int)SocketError));
    }

    int IValueTaskSource<int>.GetResult(short token) => _source.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _source.GetStatus(token);
    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _source.OnCompleted(continuation, state, token, flags);
}
