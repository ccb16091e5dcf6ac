using Tandem.Storage.Threading;

namespace Tandem.Storage.Tests.Threading;

public sealed class NoWaitTests
{
    [Fact]
    public void Scopes_nest_and_end()
    {
        Assert.False(NoWait.IsActive);
        using (NoWait.Enter())
        {
            using (NoWait.Enter())
                Assert.True(NoWait.IsActive);
            Assert.True(NoWait.IsActive);
        }
        Assert.False(NoWait.IsActive);
    }

    [Fact]
    public void Flushes_are_deferred_only_inside_a_scope_that_carries_a_batch()
    {
        var deferred = new DeferredFlushes();
        var flush = new CountingFlush();
        Assert.False(NoWait.TryDefer(flush));
        using (NoWait.Enter())
            Assert.False(NoWait.TryDefer(flush));
        using (NoWait.Enter(deferred))
        {
            using (NoWait.Enter())
                Assert.True(NoWait.TryDefer(flush)); // an inner scope keeps the outer batch
            Assert.True(NoWait.TryDefer(flush));
        }
        Assert.False(NoWait.TryDefer(flush));
        Assert.Equal(0, flush.Count);

        deferred.Run();
        Assert.Equal(1, flush.Count);
        deferred.Run();
        Assert.Equal(1, flush.Count);
    }

    [Fact]
    public void Every_deferred_flush_runs_once()
    {
        var deferred = new DeferredFlushes();
        var a = new CountingFlush();
        var b = new CountingFlush();
        using (NoWait.Enter(deferred))
        {
            NoWait.TryDefer(a);
            NoWait.TryDefer(b);
            NoWait.TryDefer(a);
        }
        deferred.Run();
        Assert.Equal((1, 1), (a.Count, b.Count));
    }

    private sealed class CountingFlush : IDeferredFlush
    {
        public int Count { get; private set; }
        public void Flush() => Count++;
    }
}
