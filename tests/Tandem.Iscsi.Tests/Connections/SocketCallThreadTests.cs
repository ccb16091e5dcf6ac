using Tandem.Iscsi.Connections;

namespace Tandem.Iscsi.Tests.Connections;

public class SocketCallThreadTests
{
    [Fact]
    public Task A_posted_call_runs_on_the_thread_and_so_does_the_callers_continuation() =>
        // Off the test framework's synchronization context, so that continuations run where they complete.
        Task.Run(async () =>
    {
        Thread? callThread = null;
        int calls = 0;
        var thread = new SocketCallThread("test-call", () =>
        {
            // Slow enough that the caller awaits first: a call that completes before the caller
            // awaits lets the caller go on on its own thread, which is just as correct.
            Thread.Sleep(20);
            callThread = Thread.CurrentThread;
            return ++calls;
        });
        try
        {
            Assert.False(thread.IsCurrent);
            for (int i = 1; i <= 3; i++)
            {
                int result = await thread.Post();
                Assert.Equal(i, result);
                Assert.Same(callThread, Thread.CurrentThread);
                Assert.True(thread.IsCurrent);
                Assert.Equal("test-call", Thread.CurrentThread.Name);
                await Task.Yield(); // leave the thread, so the next call is posted again
            }
        }
        finally
        {
            thread.Stop();
        }
    });

    [Fact]
    public async Task A_failing_call_fails_the_caller_and_the_thread_serves_the_next()
    {
        bool fail = true;
        var thread = new SocketCallThread("test-fail", () => fail ? throw new IOException("no room") : 7);
        try
        {
            await Assert.ThrowsAsync<IOException>(async () => await thread.Post());
            fail = false;
            Assert.Equal(7, await thread.Post());
        }
        finally
        {
            thread.Stop();
        }
    }

    [Fact]
    public async Task Start_runs_the_first_work_on_the_thread_and_stop_ends_it()
    {
        var started = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        SocketCallThread? thread = null;
        thread = new SocketCallThread("test-start", () => 1);
        thread.Start(() =>
        {
            Assert.True(thread.IsCurrent);
            started.SetResult(Thread.CurrentThread);
        });
        Thread os = await started.Task.WaitAsync(TimeSpan.FromSeconds(5));
        thread.Stop();
        Assert.True(os.Join(TimeSpan.FromSeconds(5)), "the thread did not end");
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await thread.Post());
        Assert.Throws<InvalidOperationException>(() => thread.Start(() => { }));
    }
}
