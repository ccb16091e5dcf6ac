using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Ordering;

public sealed class LamportClockTests
{
    [Fact]
    public void Ticks_from_one_and_stamps_with_the_node_id()
    {
        var clock = new LamportClock();
        Assert.Equal(0, clock.Current);
        Assert.Equal(new Stamp(1, 7), clock.Tick(7));
        Assert.Equal(new Stamp(2, 7), clock.Tick(7));
        Assert.True(clock.Tick(7) > Stamp.Zero);
    }

    [Fact]
    public void Observe_keeps_the_maximum()
    {
        var clock = new LamportClock();
        Assert.Equal(10, clock.Observe(10));
        Assert.Equal(10, clock.Observe(4));
        Assert.Equal(10, clock.Current);
        Assert.Equal(new Stamp(11, 1), clock.Tick(1));
        Assert.Equal(11, clock.Observe(11));
    }

    [Fact]
    public void Concurrent_ticks_are_distinct_and_concurrent_observes_never_go_back()
    {
        const int Threads = 4, PerThread = 100_000;
        var clock = new LamportClock();
        var seen = new long[Threads][];
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            var mine = new long[PerThread];
            long last = 0;
            for (int i = 0; i < PerThread; i++)
            {
                mine[i] = clock.Tick(t).Lamport;
                Assert.True(mine[i] > last);
                last = mine[i];
                // Observing a past value must not lower the clock for anyone.
                long after = clock.Observe(mine[i] - 1);
                Assert.True(after >= mine[i]);
            }
            seen[t] = mine;
        });
        long[] all = [.. seen.SelectMany(s => s)];
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.Equal((long)Threads * PerThread, clock.Current);
    }

    [Fact]
    public void Concurrent_observes_end_at_the_largest_value()
    {
        var clock = new LamportClock();
        Parallel.For(0, 4, t =>
        {
            for (long v = t; v < 200_000; v += 4)
                clock.Observe(v);
        });
        Assert.Equal(199_999, clock.Current);
    }
}
