using System.Text;
using Tandem.Replication.Ordering;

namespace Tandem.Replication.Tests.Simulation;

/// <summary>
/// Deterministic simulator of a replica set running the real <see cref="WriteOrdering"/>: no threads,
/// no wall clock, every choice drawn from one seeded <see cref="Random"/>. Each node's device is
/// <c>long[] blocks</c> holding the id of the write that last wrote each block; links are FIFO queues,
/// one per direction, delivered in random interleavings (arbitrary delays).
/// </summary>
/// <remarks>
/// Checks: (c) when a write completes (every peer answered APPLIED), every node holds it or a newer
/// write on each of its blocks; at the end, after draining and a round of heartbeats, (a) all replicas
/// are identical, (b) each block holds the newest-stamped write that covered it, and (d) no in-flight
/// entry is left. A failed check throws <see cref="SimulationFailedException"/> whose message has the
/// seed and the last events touching the failing block.
/// </remarks>
internal sealed class ReplicationSimulator
{
    private enum MessageKind : byte { Write, Applied, Heartbeat, Forget }

    private readonly record struct Message(MessageKind Kind, int WriteId, long SenderClock);

    private sealed class Node(int id, int blockCount)
    {
        public readonly int Id = id;
        public readonly WriteOrdering Ordering = new(id);
        public readonly long[] Blocks = new long[blockCount];
        public readonly List<int> Unsent = [];
        public readonly List<BlockRun> Runs = [];
    }

    private sealed class Write(int id, int origin, Stamp stamp, long lba, int count)
    {
        public readonly int Id = id;
        public readonly int Origin = origin;
        public readonly Stamp Stamp = stamp;
        public readonly long Lba = lba;
        public readonly int Count = count;
        public int Acks;
        public bool Completed;

        public bool Covers(long block) => block >= Lba && block < Lba + Count;

        public override string ToString() => $"W{Id}({Stamp})";
    }

    private enum EventKind : byte { Issue, Send, Apply, Ack, Complete, Heartbeat, Forget }

    /// <summary>One step, kept for failure traces. <see cref="Mask"/>: blocks of the write's range that
    /// were written (bit i = block Lba + i).</summary>
    private readonly record struct TraceEvent(int Step, EventKind Kind, int Node, int Peer, int WriteId, ulong Mask, long Clock);

    private readonly SimulatorOptions _options;
    private readonly Random _random;
    private readonly Node[] _nodes;                 // by node id; [0] unused
    private readonly Queue<Message>[,] _links;      // [from, to]
    private readonly List<Write> _writes = [];      // by write id; [0] = "never written"
    private readonly List<TraceEvent> _trace = [];
    private readonly int _issuePercent;
    private int _step;

    public ReplicationSimulator(int seed, SimulatorOptions options)
    {
        if (options.NodeCount is < 2 or > 3)
            throw new ArgumentOutOfRangeException(nameof(options), "2 or 3 nodes");
        if (options.BlockCount is < 1 or > 64 || options.HotBlocks < 1 || options.MaxWriteBlocks < 1)
            throw new ArgumentOutOfRangeException(nameof(options));
        Seed = seed;
        _options = options;
        _random = new Random(seed);
        _nodes = new Node[options.NodeCount + 1];
        _links = new Queue<Message>[options.NodeCount + 1, options.NodeCount + 1];
        for (int id = 1; id <= options.NodeCount; id++)
            _nodes[id] = new Node(id, options.BlockCount);
        for (int from = 1; from <= options.NodeCount; from++)
        {
            for (int to = 1; to <= options.NodeCount; to++)
            {
                if (from == to)
                    continue;
                _links[from, to] = new Queue<Message>();
                _nodes[from].Ordering.AddPeer(to);
            }
        }
        _writes.Add(new Write(0, 0, Stamp.Zero, 0, 0));
        // Per seed: from calm (links mostly empty) to bursty (long queues, many writes in flight).
        _issuePercent = 5 + _random.Next(21);
    }

    public int Seed { get; }

    public SimulatorOptions Options => _options;

    /// <summary>Runs a seed: random steps, then <see cref="Quiesce"/> and <see cref="CheckConverged"/>.
    /// Returns null on success, else the failure message.</summary>
    public static string? RunAndCheck(int seed, SimulatorOptions options, int steps)
    {
        var simulator = new ReplicationSimulator(seed, options);
        try
        {
            simulator.Run(steps);
            simulator.Quiesce();
            simulator.CheckConverged();
            return null;
        }
        catch (SimulationFailedException e)
        {
            return e.Message;
        }
    }

    public WriteOrdering Ordering(int node) => _nodes[node].Ordering;

    /// <summary>Id of the write that last wrote <paramref name="block"/> on <paramref name="node"/> (0: none).</summary>
    public long BlockOf(int node, int block) => _nodes[node].Blocks[block];

    public Stamp StampOf(int writeId) => _writes[writeId].Stamp;

    public bool IsCompleted(int writeId) => _writes[writeId].Completed;

    public int Pending(int from, int to) => _links[from, to].Count;

    public void Run(int steps)
    {
        for (int i = 0; i < steps; i++)
            RandomStep();
    }

    private void RandomStep()
    {
        int roll = _random.Next(100);
        if (roll < _issuePercent)
        {
            IssueRandom();
            return;
        }
        if (_options.DeferredSend && roll < _issuePercent + 15 && SendRandom())
            return;
        if (roll < 90 && DeliverRandom())
            return;
        int from = 1 + _random.Next(_options.NodeCount);
        Heartbeat(from, OtherNode(from));
    }

    private void IssueRandom()
    {
        int node = 1 + _random.Next(_options.NodeCount);
        int lba = _random.Next(100) < 80 ? _random.Next(Math.Min(_options.HotBlocks, _options.BlockCount)) : _random.Next(_options.BlockCount);
        int count = 1 + _random.Next(Math.Min(_options.MaxWriteBlocks, _options.BlockCount - lba));
        Issue(node, lba, count);
    }

    private int OtherNode(int node)
    {
        int other = 1 + _random.Next(_options.NodeCount - 1);
        return other >= node ? other + 1 : other;
    }

    /// <summary>A client write accepted by <paramref name="node"/>: stamped, applied locally, and sent to
    /// every peer (or, with <see cref="SimulatorOptions.DeferredSend"/>, queued for a later send step).
    /// Returns the write id.</summary>
    public int Issue(int node, long lba, int count)
    {
        _step++;
        Node origin = _nodes[node];
        Stamp stamp = origin.Ordering.StampLocalWrite(lba, count);
        var write = new Write(_writes.Count, node, stamp, lba, count);
        _writes.Add(write);
        for (long b = lba; b < lba + count; b++)
            origin.Blocks[b] = write.Id;
        _trace.Add(new TraceEvent(_step, EventKind.Issue, node, 0, write.Id, MaskOf(count), origin.Ordering.Clock));
        if (_options.DeferredSend)
            origin.Unsent.Add(write.Id);
        else
            SendWrite(origin, write.Id);
        return write.Id;
    }

    private bool SendRandom()
    {
        int start = _random.Next(_options.NodeCount);
        for (int i = 0; i < _options.NodeCount; i++)
        {
            Node node = _nodes[1 + (start + i) % _options.NodeCount];
            if (node.Unsent.Count == 0)
                continue;
            _step++;
            SendWrite(node, node.Unsent[_random.Next(node.Unsent.Count)]);
            return true;
        }
        return false;
    }

    private void SendWrite(Node origin, int writeId)
    {
        origin.Unsent.Remove(writeId);
        long clock = CarriedClock(origin);
        _trace.Add(new TraceEvent(_step, EventKind.Send, origin.Id, 0, writeId, 0, clock));
        for (int peer = 1; peer <= _options.NodeCount; peer++)
        {
            if (peer != origin.Id)
                _links[origin.Id, peer].Enqueue(new Message(MessageKind.Write, writeId, clock));
        }
    }

    /// <summary>The clock a node puts on a message: below every write it stamped but has not sent yet,
    /// since the receiver takes it as "every later write from me is newer than this".</summary>
    private long CarriedClock(Node node)
    {
        long clock = node.Ordering.Clock;
        if (!_options.CarryRawClock)
        {
            foreach (int id in node.Unsent)
                clock = Math.Min(clock, _writes[id].Stamp.Lamport - 1);
        }
        return clock;
    }

    public void Heartbeat(int from, int to)
    {
        _step++;
        long clock = CarriedClock(_nodes[from]);
        _links[from, to].Enqueue(new Message(MessageKind.Heartbeat, 0, clock));
    }

    private readonly int[] _nonEmpty = new int[9];

    private bool DeliverRandom()
    {
        int count = 0;
        for (int from = 1; from <= _options.NodeCount; from++)
        {
            for (int to = 1; to <= _options.NodeCount; to++)
            {
                if (from != to && _links[from, to].Count > 0)
                    _nonEmpty[count++] = from * 4 + to;
            }
        }
        if (count == 0)
            return false;
        int pick = _nonEmpty[_random.Next(count)];
        return Deliver(pick / 4, pick % 4);
    }

    /// <summary>Delivers the head message of the link from <paramref name="from"/> to <paramref name="to"/>;
    /// false when the link is empty.</summary>
    public bool Deliver(int from, int to)
    {
        if (!_links[from, to].TryDequeue(out Message message))
            return false;
        _step++;
        Node receiver = _nodes[to];
        switch (message.Kind)
        {
            case MessageKind.Write:
                ApplyRemote(receiver, from, _writes[message.WriteId]);
                break;
            case MessageKind.Applied:
                Write write = _writes[message.WriteId];
                write.Acks++;
                _trace.Add(new TraceEvent(_step, EventKind.Ack, to, from, write.Id, 0, message.SenderClock));
                if (write.Acks == _options.NodeCount - 1)
                    Complete(write);
                break;
            case MessageKind.Heartbeat:
                _trace.Add(new TraceEvent(_step, EventKind.Heartbeat, to, from, 0, 0, message.SenderClock));
                break;
            case MessageKind.Forget:
                receiver.Ordering.InFlight.Forget(_writes[message.WriteId].Stamp.Lamport);
                _trace.Add(new TraceEvent(_step, EventKind.Forget, to, from, message.WriteId, 0, message.SenderClock));
                break;
        }
        // Last: the message has been applied, so its clock may raise the sender's watermark.
        receiver.Ordering.ObservePeerClock(from, message.SenderClock);
        return true;
    }

    private void ApplyRemote(Node receiver, int from, Write write)
    {
        receiver.Ordering.PlanRemoteWrite(write.Lba, write.Count, write.Stamp, receiver.Runs);
        if (_options.DisableStampMap)
        {
            receiver.Runs.Clear();
            receiver.Runs.Add(new BlockRun(write.Lba, write.Count));
        }
        ulong mask = 0;
        foreach (BlockRun run in receiver.Runs)
        {
            for (long b = run.Lba; b < run.End; b++)
            {
                receiver.Blocks[b] = write.Id;
                mask |= 1UL << (int)(b - write.Lba);
            }
        }
        _trace.Add(new TraceEvent(_step, EventKind.Apply, receiver.Id, from, write.Id, mask, receiver.Ordering.Clock));
        _links[receiver.Id, from].Enqueue(new Message(MessageKind.Applied, write.Id, CarriedClock(receiver)));
    }

    private void Complete(Write write)
    {
        write.Completed = true;
        _trace.Add(new TraceEvent(_step, EventKind.Complete, write.Origin, 0, write.Id, MaskOf(write.Count), 0));
        // (c) An acknowledged write is on every replica, or overwritten there by a newer one.
        for (int node = 1; node <= _options.NodeCount; node++)
        {
            for (long b = write.Lba; b < write.Lba + write.Count; b++)
            {
                Write holder = _writes[(int)_nodes[node].Blocks[b]];
                if (holder.Stamp < write.Stamp)
                    Fail($"{write} completed but node {node} block {b} holds the older {holder}", (int)b);
            }
        }
        if (_options.ForgetOnCompletion)
        {
            long clock = CarriedClock(_nodes[write.Origin]);
            for (int peer = 1; peer <= _options.NodeCount; peer++)
            {
                if (peer != write.Origin)
                    _links[write.Origin, peer].Enqueue(new Message(MessageKind.Forget, write.Id, clock));
            }
        }
    }

    /// <summary>Sends what is unsent, drains every link, sends a heartbeat on every link and drains again:
    /// afterwards every node has heard every peer's final clock.</summary>
    public void Quiesce()
    {
        for (int node = 1; node <= _options.NodeCount; node++)
        {
            while (_nodes[node].Unsent.Count > 0)
            {
                _step++;
                SendWrite(_nodes[node], _nodes[node].Unsent[_random.Next(_nodes[node].Unsent.Count)]);
            }
        }
        while (DeliverRandom()) { }
        for (int from = 1; from <= _options.NodeCount; from++)
        {
            for (int to = 1; to <= _options.NodeCount; to++)
            {
                if (from != to)
                    Heartbeat(from, to);
            }
        }
        while (DeliverRandom()) { }
    }

    /// <summary>The end-state checks (a), (b), (d); call after <see cref="Quiesce"/>.</summary>
    public void CheckConverged()
    {
        foreach (Write write in _writes)
        {
            if (write.Id != 0 && !write.Completed)
                Fail($"{write} never completed", (int)write.Lba);
        }
        for (int b = 0; b < _options.BlockCount; b++)
        {
            // (a) Replicas are identical.
            for (int node = 2; node <= _options.NodeCount; node++)
            {
                if (_nodes[node].Blocks[b] != _nodes[1].Blocks[b])
                    Fail($"replicas differ at block {b}", b);
            }
            // (b) The newest-stamped write covering the block won.
            Write newest = _writes[0];
            foreach (Write write in _writes)
            {
                if (write.Covers(b) && write.Stamp > newest.Stamp)
                    newest = write;
            }
            if (_nodes[1].Blocks[b] != newest.Id)
                Fail($"block {b} holds {_writes[(int)_nodes[1].Blocks[b]]}, expected the newest {newest}", b);
        }
        // (d) Everything in flight was forgotten once every peer's final clock was heard.
        for (int node = 1; node <= _options.NodeCount; node++)
        {
            int entries = _nodes[node].Ordering.InFlightEntries;
            if (entries != 0)
            {
                var (run, stamp) = _nodes[node].Ordering.InFlight.Snapshot()[0];
                Fail($"node {node} still has {entries} in-flight entries after quiescing (first: {run} {stamp}, clock {_nodes[node].Ordering.Clock})", (int)run.Lba);
            }
        }
    }

    private static ulong MaskOf(int count) => count >= 64 ? ulong.MaxValue : (1UL << count) - 1;

    private void Fail(string what, int block)
    {
        var message = new StringBuilder();
        message.Append($"Simulation seed {Seed} ({_options}, issue {_issuePercent}%) failed at step {_step}: {what}.");
        message.Append($" Reproduce with TANDEM_SIM_SEED={Seed}.");
        message.Append($"\nBlock {block} per node:");
        for (int node = 1; node <= _options.NodeCount; node++)
            message.Append($" n{node}={_writes[(int)_nodes[node].Blocks[block]]}");
        message.Append($"\nLast events touching block {block}:");
        var lines = new List<string>();
        for (int i = _trace.Count - 1; i >= 0 && lines.Count < 16; i--)
        {
            TraceEvent e = _trace[i];
            if (e.WriteId == 0 || !_writes[e.WriteId].Covers(block))
                continue;
            Write write = _writes[e.WriteId];
            bool written = (e.Mask & (1UL << (int)(block - write.Lba))) != 0;
            lines.Add(e.Kind switch
            {
                EventKind.Issue => $"  step {e.Step}: node {e.Node} accepted {write} [{write.Lba}+{write.Count}], clock {e.Clock}",
                EventKind.Send => $"  step {e.Step}: node {e.Node} sent {write} carrying clock {e.Clock}",
                EventKind.Apply => $"  step {e.Step}: node {e.Node} got {write} from node {e.Peer}: block {block} {(written ? "written" : "skipped")}, clock {e.Clock}",
                EventKind.Ack => $"  step {e.Step}: node {e.Node} got APPLIED {write} from node {e.Peer} carrying clock {e.Clock}",
                EventKind.Complete => $"  step {e.Step}: {write} completed",
                EventKind.Forget => $"  step {e.Step}: node {e.Node} got FORGET {write} from node {e.Peer}",
                _ => $"  step {e.Step}: {e.Kind} node {e.Node} {write}",
            });
        }
        lines.Reverse();
        foreach (string line in lines)
            message.Append('\n').Append(line);
        throw new SimulationFailedException(message.ToString());
    }
}

internal sealed class SimulationFailedException(string message) : Exception(message);
