using System.Text;
using Tandem.Replication.Failover;
using Tandem.Replication.Replicas;
using Tandem.Storage;

namespace Tandem.Replication.Tests.Simulation;

/// <summary>
/// Deterministic simulator of the failover state machine (docs/design/replication.md, SPEC §6): 2 or
/// 3 data nodes, optionally a witness running the real <see cref="WitnessBallot"/>, deciding through
/// the real <see cref="FailoverRules"/>, <see cref="FailoverTimings"/> and <see cref="Generation"/>.
/// One thread and no wall clock: a virtual clock in milliseconds, one seeded <see cref="Random"/>, and
/// the node's logic written as async methods whose awaits are completed only by the event loop
/// (continuations run inline, in event order, on the simulation's own thread and synchronization context).
/// </summary>
/// <remarks>
/// A node's copy is the set of client write ids it holds; a resync copies the newer node's set. Each
/// node's timers run at its own rate (durations only). Links: sync and heartbeat per pair, and
/// node↔witness; each direction is cut and healed on its own; a cut direction holds its messages
/// (TCP retransmits) and delivers them, in order, after the heal. Checks (numbered as in the tests):
/// 1 no two serving nodes that do not replicate to each other (node majority, at every instant);
/// 2 no stale read (node majority); 3 every acknowledged write is on every node at the end, unless a
/// heartbeat-strategy total cut happened and a split brain was reported; 4 the witness grants only to
/// a node at (or newer than) the generation it last voted for, holding every acknowledged write;
/// 5 at the end every node serves, unless a split brain was reported.
/// </remarks>
internal sealed class FailoverSimulator
{
    private enum Channel : byte { Sync, Heartbeat, Witness }

    private enum Kind : byte
    {
        Hello, HelloAck, Close, Heartbeat, Status, Write, ReachQuery, SyncBegin, SyncEnd, Reply,
        Probe, Fence, VoteRequest, VoteRelease, WritesTo,
    }

    private const int WitnessId = 0;

    private sealed record Status(ReplicaState State, string Generation, IReadOnlyList<string> History, bool Serving, bool Suspects);

    private sealed class Message(Kind kind, int from, int to, Channel channel)
    {
        public readonly Kind Kind = kind;
        public readonly int From = from;
        public readonly int To = to;
        public readonly Channel Channel = channel;
        public long Epoch;
        public long RequestId;
        public bool Ok;
        public int Value;
        public Status? Status;
        public HashSet<int>? Data;
        public WitnessRequest? Vote;
        public WitnessAnswer? Answer;
    }

    private sealed class Pipe
    {
        public bool Cut;
        public long LastReady;
        public readonly Queue<(Message Message, long Ready)> Queue = new();
    }

    private sealed class Peer(int id, ReplicaNodeHeader member)
    {
        public readonly int Id = id;
        public readonly ReplicaNodeHeader Member = member;
        public long Epoch;                  // 0: the sync link is down on this side
        public long LastReceived;
        public long LinkDownAt = -1;
        public long DialingEpoch;
        public bool ReceivesWrites;
        public ReplicaState RecordedState = ReplicaState.Synchronized;
        public Status? Announced;
        public bool SplitBrain;
        public string? PartitionReported;
        public Task? LossRecorded;
        public long SyncEpoch;              // peer.Sync: the link our resync of it runs on; 0: none (cleared only by RunSyncAsync)
        public bool SyncCancelled;          // peer.SyncCancellation cancelled (its loss was recorded)
        public TaskCompletionSource<bool>? Handshake;
        public bool Dirty;                  // its bitmap has marks
        public readonly bool[] SkipsNode = new bool[4]; // by node id: it told us its writes do not reach that node (WritesToMessage)
    }

    private sealed class Node(int id, ReplicaNodeHeader member, double rate)
    {
        public readonly int Id = id;
        public readonly ReplicaNodeHeader Member = member;
        public readonly double Rate = rate;
        public readonly List<Peer> Peers = [];
        public bool Alive;
        public int Incarnation;
        public ReplicaState LocalState = ReplicaState.Synchronized;
        public bool Serving;
        public int Deciding;
        public string? SuspendedBecause;
        public int? YieldedTo;
        public int? SyncSource;
        public string Generation = "";
        public IReadOnlyList<string> History = [];
        public HashSet<int> Data = [];
        public readonly HashSet<int> FromOthersDuringSync = [];
        public bool Suspects;
        public long VoteTrustedUntil;       // real ms; 0: does not hold the vote
        public long NextVoteAttempt;
        public long Started;
        public Task WitnessTail = Task.CompletedTask;

        public bool IsServing => Alive && Serving && Deciding == 0;

        public Peer PeerOf(int id) => Peers.First(p => p.Id == id);
    }

    private readonly FailoverSimulatorOptions _options;
    private readonly Random _random;
    private readonly Node[] _nodes;                                 // by id; [0] unused
    private readonly Dictionary<(int From, int To, Channel Channel), Pipe> _pipes = [];
    private readonly PriorityQueue<Action, (long Time, long Seq)> _events = new();
    private readonly Dictionary<long, (Node Node, int Incarnation, TaskCompletionSource<Message?> Reply, int To, Channel Channel, long Epoch)> _pending = [];
    private readonly WitnessBallot? _ballot;
    private readonly double _witnessRate;
    private readonly Dictionary<int, long> _acked = [];             // write id → when acknowledged
    private readonly string[] _trace = new string[40];
    private int _traceCount;
    private long _now;
    private long _seq;
    private long _ids;
    private int _writes;
    private string? _failure;
    private int _step;
    private Thread? _thread;
    private int _sameInstant;
    private const int MaxEventsPerInstant = 100_000;

    public FailoverSimulator(int seed, FailoverSimulatorOptions options)
    {
        if (options.NodeCount is < 2 or > 3 || (options.Witness && (options.NodeCount != 2 || options.Strategy != FailoverStrategy.NodeMajority)))
            throw new ArgumentOutOfRangeException(nameof(options));
        Seed = seed;
        _options = options;
        _random = new Random(seed);
        _nodes = new Node[options.NodeCount + 1];
        string generation = Convert.ToHexStringLower(BitConverter.GetBytes(_random.NextInt64()));
        for (int id = 1; id <= options.NodeCount; id++)
        {
            var member = new ReplicaNodeHeader
            {
                NodeId = id,
                Api = $"node{id}:3261",
                SyncChannels = [],
                State = ReplicaStateText.Synchronized,
                Priority = 1 + _random.Next(3),
            };
            _nodes[id] = new Node(id, member, RandomRate()) { Generation = generation };
        }
        for (int id = 1; id <= options.NodeCount; id++)
        {
            for (int other = 1; other <= options.NodeCount; other++)
            {
                if (other == id)
                    continue;
                _nodes[id].Peers.Add(new Peer(other, _nodes[other].Member));
                _pipes[(id, other, Channel.Sync)] = new Pipe();
                _pipes[(id, other, Channel.Heartbeat)] = new Pipe();
            }
            if (options.Witness)
            {
                _pipes[(id, WitnessId, Channel.Witness)] = new Pipe();
                _pipes[(WitnessId, id, Channel.Witness)] = new Pipe();
            }
        }
        _witnessRate = RandomRate();
        if (options.Witness)
            _ballot = new WitnessBallot(null, options.Lease, TimeSpan.Zero);
    }

    public int Seed { get; }

    public int Resyncs { get; private set; }
    public int SplitBrainsReported { get; private set; }
    public bool HeartbeatTotalCut { get; private set; }
    public int AcknowledgedWrites => _acked.Count;

    /// <summary>Runs a seed: start-up, random steps of faults and client I/O, then a final heal and the end checks.
    /// Returns null on success, else the failure message (with the seed and the last trace events).</summary>
    public static string? RunAndCheck(int seed, FailoverSimulatorOptions options, int steps) => new FailoverSimulator(seed, options).RunAndCheck(steps);

    public string? RunAndCheck(int steps)
    {
        // A thread of its own, with the default task scheduler and the simulation's synchronization
        // context (no continuation ever reaches the thread pool), and a stack deep enough that the
        // runtime inlines every continuation.
        var thread = new Thread(() => Run(steps), 256 << 20) { IsBackground = true, Name = $"failover simulation {Seed}" };
        _thread = thread;
        thread.Start();
        thread.Join();
        return _failure;
    }

    private void Run(int steps)
    {
        SynchronizationContext.SetSynchronizationContext(new SimulationContext(this));
        try
        {
            Start();
            for (_step = 1; _step <= steps && _failure is null; _step++)
                RandomStep();
            if (_failure is null)
                FinalHealAndCheck();
        }
        catch (Exception e)
        {
            _failure ??= $"Failover simulation seed {Seed} ({_options}): the simulator threw {e}";
        }
    }

    /// <summary>Same seed, same run: the trace of the last events (for the determinism test).</summary>
    public string TraceText => string.Join('\n', LastTrace());

    // ---------------------------------------------------------------- scenario

    private void Start()
    {
        for (int id = 1; id <= _options.NodeCount; id++)
            Boot(_nodes[id], crashed: false);
        AdvanceTo(_now + 10_000);
    }

    private void RandomStep()
    {
        int roll = _random.Next(100);
        if (roll < 14)
            CutRandom();
        else if (roll < 20)
            CutPairTotally();
        else if (roll < 32)
            HealRandom();
        else if (roll < 36)
            KillRandom();
        else if (roll < 44)
            RestartRandom();
        else if (roll < 47)
            HealAll();
        // Client I/O at random instants of this step.
        long length = 50 + _random.Next(1500);
        int ops = _random.Next(4);
        for (int i = 0; i < ops; i++)
        {
            bool write = _random.Next(100) < 60;
            At(_now + _random.Next((int)length), write ? ClientWrite : ClientRead);
        }
        AdvanceTo(_now + length);
    }

    private void CutRandom()
    {
        var keys = _pipes.Keys.ToList();
        var key = keys[_random.Next(keys.Count)];
        Cut(key.From, key.To, key.Channel);
    }

    private void CutPairTotally()
    {
        int a = 1 + _random.Next(_options.NodeCount);
        int b = a % _options.NodeCount + 1;
        foreach (var channel in new[] { Channel.Sync, Channel.Heartbeat })
        {
            Cut(a, b, channel);
            Cut(b, a, channel);
        }
    }

    private void Cut(int from, int to, Channel channel)
    {
        var pipe = _pipes[(from, to, channel)];
        if (pipe.Cut)
            return;
        pipe.Cut = true;
        Trace($"CUT {Name(from)}->{Name(to)} {channel}");
    }

    private void HealRandom()
    {
        var cut = _pipes.Where(p => p.Value.Cut).Select(p => p.Key).ToList();
        if (cut.Count > 0)
            Heal(cut[_random.Next(cut.Count)]);
    }

    private void HealAll()
    {
        foreach (var key in _pipes.Keys.ToList())
            Heal(key);
    }

    private void Heal((int From, int To, Channel Channel) key)
    {
        var pipe = _pipes[key];
        if (!pipe.Cut)
            return;
        pipe.Cut = false;
        Trace($"HEAL {Name(key.From)}->{Name(key.To)} {key.Channel}");
        long ready = _now;
        int n = pipe.Queue.Count;
        for (int i = 0; i < n; i++)
        {
            var (message, was) = pipe.Queue.Dequeue();
            ready = Math.Max(Math.Max(was, ready), _now + 1 + _random.Next(_options.MaxDelayMs));
            pipe.Queue.Enqueue((message, ready));
        }
        pipe.LastReady = Math.Max(pipe.LastReady, ready);
        if (n > 0)
            At(pipe.Queue.Peek().Ready, () => Pump(pipe));
    }

    private void KillRandom()
    {
        var alive = Enumerable.Range(1, _options.NodeCount).Where(i => _nodes[i].Alive).ToList();
        if (alive.Count < 2)
            return;
        Kill(_nodes[alive[_random.Next(alive.Count)]]);
    }

    private void RestartRandom()
    {
        var dead = Enumerable.Range(1, _options.NodeCount).Where(i => !_nodes[i].Alive).ToList();
        if (dead.Count > 0)
            Boot(_nodes[dead[_random.Next(dead.Count)]], crashed: true);
    }

    private void FinalHealAndCheck()
    {
        HealAll();
        for (int id = 1; id <= _options.NodeCount; id++)
        {
            if (!_nodes[id].Alive)
                Boot(_nodes[id], crashed: true);
        }
        AdvanceTo(_now + 60_000);
        if (_failure is not null)
            return;
        // Check 3: every acknowledged write survives (unless a heartbeat total cut ended in a reported split brain).
        foreach (var (write, when) in _acked.OrderBy(a => a.Key))
        {
            for (int id = 1; id <= _options.NodeCount; id++)
            {
                if (_nodes[id].Data.Contains(write))
                    continue;
                if (HeartbeatTotalCut && SplitBrainsReported > 0)
                    continue;
                Fail(3, $"write W{write}, acknowledged at {when} ms, is missing on node {id} after the final heal" +
                    (HeartbeatTotalCut ? " (a heartbeat total cut happened, but no split brain was reported: a silent merge)" : ""));
                return;
            }
        }
        // Check 5: liveness.
        if (SplitBrainsReported == 0)
        {
            for (int id = 1; id <= _options.NodeCount; id++)
            {
                var node = _nodes[id];
                if (!node.IsServing)
                {
                    Fail(5, $"node {id} does not serve after the final heal and settle ({Describe(node)})");
                    return;
                }
            }
        }
    }

    // ---------------------------------------------------------------- event loop and time

    /// <summary>
    /// Continuations run inline, in event order; one the runtime will not inline (it does so when the
    /// stack runs low) becomes an event at the same instant instead of a thread-pool work item.
    /// </summary>
    private sealed class SimulationContext(FailoverSimulator simulator) : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) => simulator.At(simulator._now, () => d(state));

        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException();

        public override SynchronizationContext CreateCopy() => this;
    }

    private double RandomRate() => 1 + (_random.NextDouble() * 2 - 1) * _options.MaxRateSkew;

    private void At(long time, Action action)
    {
        if (Environment.CurrentManagedThreadId != _thread?.ManagedThreadId)
            throw new InvalidOperationException("A continuation left the simulation thread: the run would not be deterministic.");
        _events.Enqueue(action, (Math.Max(time, _now), _seq++));
    }

    /// <summary>Real milliseconds that <paramref name="local"/> take on the node's clock.</summary>
    private static long Real(Node node, TimeSpan local) => (long)Math.Ceiling(local.TotalMilliseconds * node.Rate);

    /// <summary>How long, on the node's clock, since real time <paramref name="since"/>.</summary>
    private TimeSpan Elapsed(Node node, long since) => TimeSpan.FromMilliseconds((_now - since) / node.Rate);

    private void AdvanceTo(long end)
    {
        while (_failure is null && _events.TryPeek(out _, out var when) && when.Time <= end)
        {
            var action = _events.Dequeue();
            _sameInstant = when.Time == _now ? _sameInstant + 1 : 0;
            _now = when.Time;
            if (_sameInstant > MaxEventsPerInstant)
            {
                Fail(0, $"more than {MaxEventsPerInstant} events at one instant: a loop that never waits (livelock)");
                return;
            }
            action();
            if (_options.Strategy == FailoverStrategy.NodeMajority && _options.CheckDivergentServers)
                CheckNoDivergentServers();
        }
        _now = Math.Max(_now, end);
    }

    /// <summary>A delay on the node's clock; never resumes if the node dies meanwhile.</summary>
    private Task Delay(Node node, TimeSpan local)
    {
        var done = new TaskCompletionSource();
        int incarnation = node.Incarnation;
        At(_now + Real(node, local), () =>
        {
            if (node.Alive && node.Incarnation == incarnation)
                done.SetResult();
        });
        return done.Task;
    }

    /// <summary>Runs <paramref name="work"/> as its own event (Task.Run in the real node); failures end the run.</summary>
    private Task Spawn(Node node, Func<Task> work)
    {
        var done = new TaskCompletionSource();
        int incarnation = node.Incarnation;
        At(_now, async () =>
        {
            if (!node.Alive || node.Incarnation != incarnation)
                return;
            try
            {
                await work();
            }
            catch (Exception e)
            {
                _failure ??= $"Failover simulation seed {Seed} ({_options}): the simulator threw {e}";
            }
            done.SetResult();
        });
        return done.Task;
    }

    // ---------------------------------------------------------------- links

    private void Send(Message message)
    {
        var pipe = _pipes[(message.From, message.To, message.Channel)];
        long ready = Math.Max(pipe.LastReady, _now + 1 + _random.Next(_options.MaxDelayMs));
        pipe.LastReady = ready;
        pipe.Queue.Enqueue((message, ready));
        At(ready, () => Pump(pipe));
    }

    private void Pump(Pipe pipe)
    {
        while (!pipe.Cut && pipe.Queue.TryPeek(out var head) && head.Ready <= _now)
        {
            pipe.Queue.Dequeue();
            Deliver(head.Message);
        }
    }

    /// <summary>A request with a reply; null when it timed out or the link went down (LinkDown).</summary>
    private Task<Message?> Ask(Node node, Message request, TimeSpan? timeout)
    {
        var reply = new TaskCompletionSource<Message?>();
        long id = request.RequestId = ++_ids;
        _pending[id] = (node, node.Incarnation, reply, request.To, request.Channel, request.Epoch);
        if (request.Channel == Channel.Sync && node.PeerOf(request.To).Epoch != request.Epoch)
        {
            At(_now, () => Resolve(id, null)); // a request on a link that is already down: LinkDown at once
            return reply.Task;
        }
        Send(request);
        if (timeout is { } t)
            At(_now + Real(node, t), () => Resolve(id, null));
        return reply.Task;
    }

    private void Resolve(long requestId, Message? reply)
    {
        if (!_pending.Remove(requestId, out var pending))
            return;
        if (pending.Node.Alive && pending.Node.Incarnation == pending.Incarnation)
            pending.Reply.SetResult(reply);
    }

    private void Answer(Message request, bool ok, int value = 0, WitnessAnswer? answer = null)
    {
        Send(new Message(Kind.Reply, request.To, request.From, request.Channel)
        {
            Epoch = request.Epoch,
            RequestId = request.RequestId,
            Ok = ok,
            Value = value,
            Answer = answer,
        });
    }

    private void Deliver(Message m)
    {
        if (m.To == WitnessId)
        {
            HandleAtWitness(m);
            return;
        }
        var node = _nodes[m.To];
        if (!node.Alive)
            return;
        if (m.Kind == Kind.Reply)
        {
            if (m.Channel == Channel.Sync)
            {
                var from = node.PeerOf(m.From);
                if (from.Epoch != m.Epoch)
                    return; // a reply on a link already declared down is discarded
                from.LastReceived = _now;
            }
            Resolve(m.RequestId, m);
            return;
        }
        if (m.Channel == Channel.Heartbeat)
        {
            HandleHeartbeatChannel(node, m);
            return;
        }
        var peer = node.PeerOf(m.From);
        switch (m.Kind)
        {
            case Kind.Hello:
                // An attempt the dialer gave up (or a dialer that died) was reset by its kernel.
                if (!_nodes[m.From].Alive || _nodes[m.From].PeerOf(node.Id) is not { Epoch: 0 } dialer || dialer.DialingEpoch != m.Epoch)
                    return;
                Send(new Message(Kind.HelloAck, node.Id, peer.Id, Channel.Sync) { Epoch = m.Epoch }); // the handshake answers before Attach
                if (!Attach(node, peer, m.Epoch))
                    return;
                AnnounceOnLinkUp(node, peer);
                return;
            case Kind.HelloAck:
                if (peer.Epoch != 0 || m.Epoch != peer.DialingEpoch)
                    return;
                var handshake = peer.Handshake;
                if (!Attach(node, peer, m.Epoch))
                {
                    At(_now, () => handshake?.TrySetResult(false)); // the dial fails: the reconnect delay, then again
                    return;
                }
                AnnounceOnLinkUp(node, peer);
                At(_now, () => handshake?.TrySetResult(true));
                return;
        }
        if (m.Epoch != peer.Epoch || peer.Epoch == 0)
            return; // frames on a link already declared down are discarded
        peer.LastReceived = _now;
        switch (m.Kind)
        {
            case Kind.Close:
                OnLinkDown(node, peer, $"closed by node {peer.Id}", sendClose: false);
                break;
            case Kind.Heartbeat:
                break;
            case Kind.Status:
                OnPeerStatus(node, peer, m.Status!);
                break;
            case Kind.WritesTo:
                if (m.Value != peer.Id)
                    peer.SkipsNode[m.Value] = !m.Ok; // OnWritesTo
                Answer(m, ok: true);
                break;
            case Kind.Write:
                node.Data.Add(m.Value);
                foreach (var other in node.Peers)
                {
                    if (other != peer && (!other.ReceivesWrites || peer.SkipsNode[other.Id]))
                        other.Dirty = true; // MarkForAbsentPartners
                }
                if (node.LocalState == ReplicaState.Synchronizing && node.SyncSource != peer.Id)
                    node.FromOthersDuringSync.Add(m.Value);
                Answer(m, ok: true);
                break;
            case Kind.ReachQuery:
                Answer(m, ok: true, value: ReachBits(node, m.Value));
                break;
            case Kind.SyncBegin:
                if (node.LocalState == ReplicaState.Synchronizing && node.SyncSource is { } source && source != peer.Id && node.PeerOf(source).Epoch != 0)
                {
                    Answer(m, ok: false); // one source at a time
                    break;
                }
                if (node.YieldedTo is { } winner && winner != peer.Id && node.PeerOf(winner).Epoch == 0)
                {
                    Answer(m, ok: false); // yielded to a node that goes on without us: only it may copy to us
                    break;
                }
                if (node.LocalState == ReplicaState.Synchronized && node.Serving)
                {
                    Answer(m, ok: false); // no force in the simulation
                    break;
                }
                node.LocalState = ReplicaState.Synchronizing;
                node.SyncSource = peer.Id;
                node.FromOthersDuringSync.Clear();
                Trace($"node {node.Id} is synchronized by node {peer.Id}");
                Answer(m, ok: true);
                break;
            case Kind.SyncEnd:
                CompleteAsSyncTarget(node, peer, m);
                Answer(m, ok: true);
                break;
        }
    }

    /// <returns>False when refused: the strategy is deciding about this partner (its stream is closed; it redials).</returns>
    private bool Attach(Node node, Peer peer, long epoch)
    {
        if (peer.LossRecorded is { IsCompleted: false })
        {
            peer.LinkDownAt = _now;
            Send(new Message(Kind.Close, node.Id, peer.Id, Channel.Sync) { Epoch = epoch });
            Trace($"node {node.Id}: link to node {peer.Id} refused (deciding about it)");
            return false;
        }
        long old = peer.Epoch;
        peer.Epoch = epoch;
        peer.LastReceived = _now;
        if (old != 0)
            FailPending(node, peer, old); // replaced by a new link: the old one's requests fail, no loss recorded here
        Array.Clear(peer.SkipsNode); // what it said on an earlier link no longer holds; it says again
        Trace($"node {node.Id}: link to node {peer.Id} up");
        _ = Spawn(node, () => LinkTicksAsync(node, peer, epoch));
        return true;
    }

    private async Task LinkTicksAsync(Node node, Peer peer, long epoch)
    {
        while (true)
        {
            await Delay(node, _options.Timings.HeartbeatInterval);
            if (peer.Epoch != epoch)
                return;
            var silence = Elapsed(node, peer.LastReceived);
            if (silence > _options.Timings.Timeout)
            {
                OnLinkDown(node, peer, $"silent for {silence.TotalMilliseconds:0} ms", sendClose: true);
                return;
            }
            Send(new Message(Kind.Heartbeat, node.Id, peer.Id, Channel.Sync) { Epoch = epoch });
        }
    }

    /// <summary>The lower id dials: an attempt waits for the handshake up to its timeout, then the reconnect delay.</summary>
    private async Task DialLoopAsync(Node node, Peer peer)
    {
        while (true)
        {
            if (peer.Epoch != 0)
            {
                await Delay(node, TimeSpan.FromMilliseconds(250)); // the link's completion, polled
                continue;
            }
            peer.DialingEpoch = ++_ids;
            var handshake = peer.Handshake = new TaskCompletionSource<bool>();
            Send(new Message(Kind.Hello, node.Id, peer.Id, Channel.Sync) { Epoch = peer.DialingEpoch });
            At(_now + Real(node, _options.Timings.HandshakeTimeout), () => handshake.TrySetResult(false));
            if (await handshake.Task)
                continue;
            peer.DialingEpoch = 0;
            await Delay(node, _options.Timings.ReconnectDelay);
        }
    }

    /// <summary>A new link is up: in three-way, which partners our writes reach (in order with them), then our status.</summary>
    private void AnnounceOnLinkUp(Node node, Peer peer)
    {
        if (node.Peers.Count > 1)
        {
            foreach (var other in node.Peers)
            {
                if (other != peer)
                    TellWritesTo(node, peer, other.Id, other.ReceivesWrites);
            }
        }
        SendStatus(node, peer);
        BroadcastReachIfThreeWay(node);
    }

    private void TellWritesTo(Node node, Peer to, int nodeId, bool sending) =>
        Send(new Message(Kind.WritesTo, node.Id, to.Id, Channel.Sync) { Epoch = to.Epoch, RequestId = ++_ids, Value = nodeId, Ok = sending });

    /// <summary>
    /// SetReceivesWrites: starts or stops sending writes to a partner and, three-way, tells the other
    /// partners in the same step (in order with our writes). Whether it changed.
    /// </summary>
    private bool SetReceivesWrites(Node node, Peer peer, bool value)
    {
        if (peer.ReceivesWrites == value)
            return false;
        peer.ReceivesWrites = value;
        foreach (var other in node.Peers)
        {
            if (other != peer && other.Epoch != 0)
                TellWritesTo(node, other, peer.Id, value);
        }
        return true;
    }

    private void FailLink(Node node, Peer peer, string reason)
    {
        if (peer.Epoch != 0)
            OnLinkDown(node, peer, reason, sendClose: true);
    }

    private void OnLinkDown(Node node, Peer peer, string reason, bool sendClose)
    {
        long epoch = peer.Epoch;
        if (epoch == 0)
            return;
        peer.Epoch = 0;
        peer.LinkDownAt = _now;
        Trace($"node {node.Id}: link to node {peer.Id} down ({reason})");
        if (sendClose)
            Send(new Message(Kind.Close, node.Id, peer.Id, Channel.Sync) { Epoch = epoch });
        FailPending(node, peer, epoch);
        AbandonIncomingSync(node, peer);
        _ = RecordLoss(node, peer);
        BroadcastReachIfThreeWay(node);
    }

    private void FailPending(Node node, Peer peer, long epoch)
    {
        var ids = _pending.Where(p => p.Value.Node == node && p.Value.Channel == Channel.Sync && p.Value.To == peer.Id && p.Value.Epoch == epoch)
            .Select(p => p.Key).ToList();
        foreach (long id in ids)
            At(_now, () => Resolve(id, null));
    }

    // ---------------------------------------------------------------- nodes: life cycle

    private void Boot(Node node, bool crashed)
    {
        node.Alive = true;
        node.Incarnation++;
        node.Deciding = 0;
        node.SyncSource = null;
        node.YieldedTo = null; // _yieldedTo is not persisted
        if (node.LocalState == ReplicaState.Synchronizing)
            node.LocalState = ReplicaState.NotSynchronized; // saved as not synchronized while a sync runs
        node.Suspects = crashed; // _suspects: the journal's findings after a crash, none after a clean start
        node.VoteTrustedUntil = 0;
        node.NextVoteAttempt = 0;
        node.WitnessTail = Task.CompletedTask;
        foreach (var peer in node.Peers)
        {
            peer.Epoch = 0;
            peer.Announced = null;
            peer.LossRecorded = null;
            peer.SyncEpoch = 0;
            peer.SyncCancelled = false;
            peer.ReceivesWrites = false;
            peer.LinkDownAt = -1;
            peer.SplitBrain = false;
            peer.PartitionReported = null;
            peer.Dirty = peer.RecordedState != ReplicaState.Synchronized; // the RAM bitmap does not survive a restart: MarkAll for a partner left behind
        }
        node.Serving = node.LocalState == ReplicaState.Synchronized && node.Peers.All(p => p.RecordedState != ReplicaState.Synchronized)
            && _options.Strategy == FailoverStrategy.Heartbeat;
        node.SuspendedBecause = node.LocalState == ReplicaState.Synchronized && !node.Serving && _options.Strategy == FailoverStrategy.NodeMajority
            ? "waiting for a majority of votes after start-up" : null;
        Trace($"node {node.Id} {(crashed ? "restarts" : "starts")}: {Describe(node)}");
        foreach (var peer in node.Peers)
        {
            if (peer.Id > node.Id)
                _ = Spawn(node, () => DialLoopAsync(node, peer));
        }
        node.Started = _now;
        if (_options.Strategy == FailoverStrategy.NodeMajority)
            _ = Spawn(node, () => QuorumMonitorAsync(node));
    }

    private void Kill(Node node)
    {
        node.Alive = false;
        node.Incarnation++;
        Trace($"KILL node {node.Id}");
        foreach (var peer in node.Peers)
        {
            // The kernel resets the process's connections.
            if (peer.Epoch != 0)
                Send(new Message(Kind.Close, node.Id, peer.Id, Channel.Sync) { Epoch = peer.Epoch });
        }
        foreach (long id in _pending.Where(p => p.Value.Node == node).Select(p => p.Key).ToList())
            _pending.Remove(id);
    }

    // ---------------------------------------------------------------- client I/O

    private void ClientWrite()
    {
        var serving = Enumerable.Range(1, _options.NodeCount).Where(i => _nodes[i].IsServing).ToList();
        if (serving.Count == 0)
            return;
        var node = _nodes[serving[_random.Next(serving.Count)]];
        int write = ++_writes;
        _ = Spawn(node, () => ReplicateAsync(node, write));
    }

    private async Task ReplicateAsync(Node node, int write)
    {
        if (!node.IsServing)
            return;
        var replies = new List<(Peer Peer, Task<Message?> Reply)>();
        var gates = new List<Task>();
        foreach (var peer in node.Peers)
        {
            if (peer.ReceivesWrites && peer.Epoch != 0)
            {
                replies.Add((peer, Ask(node, new Message(Kind.Write, node.Id, peer.Id, Channel.Sync) { Epoch = peer.Epoch, Value = write }, null)));
            }
            else
            {
                peer.Dirty = true;
                if (peer.LossRecorded is { IsCompleted: false } gate)
                    gates.Add(gate);
            }
        }
        node.Data.Add(write);
        bool lost = false;
        foreach (var gate in gates)
        {
            await gate;
            lost = true;
        }
        foreach (var (peer, reply) in replies)
        {
            if (await reply is { Ok: true })
                continue;
            peer.Dirty = true;
            await RecordLoss(node, peer);
            lost = true;
        }
        if (lost && !node.Serving)
            return; // not acknowledged: the initiator retries through a node that serves
        _acked[write] = _now;
        Trace($"W{write} acknowledged by node {node.Id}");
    }

    private void ClientRead()
    {
        var serving = Enumerable.Range(1, _options.NodeCount).Where(i => _nodes[i].IsServing).ToList();
        if (serving.Count == 0)
            return;
        var node = _nodes[serving[_random.Next(serving.Count)]];
        if (_options.Strategy != FailoverStrategy.NodeMajority)
            return;
        foreach (var (write, when) in _acked)
        {
            if (!node.Data.Contains(write))
            {
                Fail(2, $"a read from node {node.Id} misses W{write}, acknowledged at {when} ms (stale read)");
                return;
            }
        }
    }

    // ---------------------------------------------------------------- status and generations (ReplicatedDevice.State)

    private static Status OwnStatus(Node node) => new(node.LocalState, node.Generation, node.History, node.Serving, node.Suspects);

    private void SendStatus(Node node, Peer peer)
    {
        if (peer.Epoch != 0)
            Send(new Message(Kind.Status, node.Id, peer.Id, Channel.Sync) { Epoch = peer.Epoch, Status = OwnStatus(node) });
    }

    private void BroadcastStatus(Node node)
    {
        foreach (var peer in node.Peers)
            SendStatus(node, peer);
    }

    private void BroadcastReachIfThreeWay(Node node)
    {
        if (node.Peers.Count > 1)
            BroadcastStatus(node);
    }

    private void OnPeerStatus(Node node, Peer peer, Status theirs)
    {
        bool startSync = false, changed = false;
        Peer? adopt = null;
        bool adoptKeepingWrites = false;
        bool serveOnceBegun = false;
        peer.Announced = theirs;
        if (peer.LossRecorded is { IsCompleted: false })
            return; // the strategy is deciding about this partner; it looks at this status when done
        bool sameGeneration = theirs.Generation == node.Generation;
        bool weAreNewer = node.History.Contains(theirs.Generation);
        bool theyAreNewer = theirs.History.Contains(node.Generation);
        if (peer.SyncEpoch != 0)
            return;
        bool anySuspects = node.Suspects || theirs.Suspects;
        if (node.LocalState == ReplicaState.Synchronized && theirs.State == ReplicaState.Synchronized)
        {
            if (sameGeneration && anySuspects)
            {
                // The one that serves copies (its acknowledged writes win); when neither or both
                // serve, the lower id. A copier that does not serve starts only once the other
                // receives its writes (RunSyncAsync).
                bool weCopy = node.Serving != theirs.Serving ? node.Serving : node.Id < peer.Id;
                if (weCopy)
                {
                    startSync = true;
                    serveOnceBegun = !node.Serving;
                }
            }
            else if (sameGeneration)
            {
                changed = PairSynchronized(node, peer);
            }
            else if (weAreNewer && peer.ReceivesWrites)
            {
            }
            else if (weAreNewer)
            {
                startSync = true;
            }
            else if (LostByStepFrom(node, theirs.Generation, peer.Id) is { } other)
            {
                bool canAdopt = node.Serving && other.RecordedState == ReplicaState.Synchronized && other.LossRecorded is not { IsCompleted: false };
                if (canAdopt && (other.Epoch == 0 || Elapsed(node, other.LastReceived) > _options.Timings.HeartbeatInterval * 4))
                {
                    adopt = other;
                }
                else if (canAdopt && other.ReceivesWrites && other.Announced is { Serving: false, State: ReplicaState.NotSynchronized })
                {
                    adopt = other; // a partial partition already resolved: record the same loss, keep sending it writes
                    adoptKeepingWrites = true;
                }
                else if (peer.PartitionReported != theirs.Generation)
                {
                    peer.PartitionReported = theirs.Generation;
                    Trace($"node {node.Id}: PARTIAL PARTITION: node {peer.Id} lost node {other.Id}, which this node still reaches");
                }
            }
            else if (theyAreNewer)
            {
                changed = true;
                BecomeStale(node, $"node {peer.Id} holds newer data");
            }
            else
            {
                if (!peer.SplitBrain)
                {
                    SplitBrainsReported++;
                    Trace($"node {node.Id}: SPLIT BRAIN with node {peer.Id} ({node.Generation} vs {theirs.Generation})");
                }
                changed = !peer.SplitBrain;
                peer.SplitBrain = true;
            }
        }
        else if (node.LocalState == ReplicaState.Synchronized && theirs.State != ReplicaState.Synchronized)
        {
            // Under node majority only with a majority (flaw G): a stale partner that does not receive our writes is no vote.
            if (!node.Serving && MayServeAsSource(node) &&
                !node.Peers.Any(p => p.Announced is { } a && a.State == ReplicaState.Synchronized && a.Generation != node.Generation))
            {
                node.Serving = true;
                changed = true;
                node.SuspendedBecause = null;
                Trace($"node {node.Id} serves (node {peer.Id} is {theirs.State.ToText()})");
            }
            if (node.Serving && theirs.State == ReplicaState.NotSynchronized)
                startSync = true;
        }
        if (adopt is not null)
        {
            Task<bool> recorded;
            if (adoptKeepingWrites)
            {
                Trace($"node {node.Id}: node {peer.Id} lost node {adopt.Id}, which stopped serving: recording the same loss, still sending it writes");
                recorded = Task.FromResult(ContinueWithout(node, adopt, keepSending: true));
            }
            else
            {
                Trace($"node {node.Id}: node {peer.Id} lost node {adopt.Id}, silent here too: recording its loss as well");
                // Recorded (decided) before the link is failed, so that its going down finds the loss in hand.
                var loss = RecordLoss(node, adopt, decided: true);
                FailLink(node, adopt, $"node {peer.Id} lost it, silent here too");
                recorded = AfterLoss(loss, adopt);
            }
            // Looked at again once recorded, only when something changed (else the same status adopts again and again).
            int incarnation = node.Incarnation;
            _ = Spawn(node, async () =>
            {
                bool moved = await recorded;
                if (moved && node.Incarnation == incarnation && peer.Announced is { } latest)
                    OnPeerStatus(node, peer, latest);
            });
            return;
        }
        if (changed)
            BroadcastStatus(node);
        // A node waiting for a majority copies nothing yet: once it serves it looks again (ReconsiderPartners).
        if (startSync && (node.Serving || serveOnceBegun))
            StartSync(node, peer, serveOnceBegun);
    }

    private static async Task<bool> AfterLoss(Task loss, Peer lost)
    {
        await loss;
        return lost.RecordedState != ReplicaState.Synchronized;
    }

    /// <summary>Under node majority a node serves as a stale partner's source only with a majority (or the witness's vote).</summary>
    private bool MayServeAsSource(Node node) =>
        _options.Strategy == FailoverStrategy.Heartbeat ||
        FailoverRules.HasMajority(1 + node.Peers.Count(p => p.Epoch != 0 && p.ReceivesWrites), VoteCount) || HoldsVote(node);

    private static Peer? LostByStepFrom(Node node, string theirs, int announcerId) =>
        node.Peers.FirstOrDefault(o => o.Id != announcerId && Generation.AfterLosing(node.Generation, o.Id) == theirs);

    private bool PairSynchronized(Node node, Peer peer)
    {
        bool changed = SetReceivesWrites(node, peer, true);
        peer.SplitBrain = false;
        if (!node.Serving && StartsServingWith(node, peer))
        {
            node.Serving = true;
            changed = true;
            node.SuspendedBecause = null;
            Trace($"node {node.Id}: synchronized with node {peer.Id}; serving");
            // A partner it was synchronized with that has not come back: its loss is recorded (a new generation).
            foreach (var absent in AbsentPartners(node, peer))
            {
                Trace($"node {node.Id}: node {absent.Id} has not come back; serving without it");
                _ = RecordLoss(node, absent); // the strategy decides (it may still serve, through another)
            }
        }
        if (node.YieldedTo == peer.Id)
            node.YieldedTo = null;
        peer.RecordedState = ReplicaState.Synchronized;
        peer.Dirty = false;
        return changed;
    }

    /// <summary>Three-way: not while another partner pairs soon, nor while one recorded synchronized has not paired, for the start-up grace.</summary>
    private bool StartsServingWith(Node node, Peer peer)
    {
        if (node.Peers.Any(p => p != peer && PairsSoon(node, p)))
        {
            // It pairs with its status; then we serve with both (looked at again shortly, not in a loop).
            _ = Spawn(node, async () =>
            {
                await Delay(node, _options.Timings.HeartbeatInterval);
                ReconsiderPartners(node);
            });
            return false;
        }
        if (AbsentPartners(node, peer).Count == 0)
            return true;
        var left = FailoverTimings.StartupGrace(_options.Timings) - Elapsed(node, node.Started);
        if (left <= TimeSpan.Zero)
            return true;
        _ = Spawn(node, async () =>
        {
            await Delay(node, left);
            ReconsiderPartners(node);
        });
        return false;
    }

    private static List<Peer> AbsentPartners(Node node, Peer except) =>
        [.. node.Peers.Where(p => p != except && p.RecordedState == ReplicaState.Synchronized && !p.ReceivesWrites && p.LossRecorded is not { IsCompleted: false } && !PairsSoon(node, p))];

    /// <summary>Connected and announced synchronized at our generation: not absent, it pairs as soon as its status is handled.</summary>
    private static bool PairsSoon(Node node, Peer peer) =>
        !peer.ReceivesWrites && peer.Epoch != 0 && peer.Announced is { State: ReplicaState.Synchronized } a && a.Generation == node.Generation;

    /// <summary>This node serves again: partners it could not synchronize meanwhile are looked at again.</summary>
    private void ReconsiderPartners(Node node)
    {
        foreach (var peer in node.Peers)
        {
            if (peer.Epoch != 0 && peer.Announced is { } announced)
                OnPeerStatus(node, peer, announced);
        }
    }

    private void BecomeStale(Node node, string reason)
    {
        Trace($"node {node.Id} is not synchronized: {reason}");
        node.Serving = false;
        node.LocalState = ReplicaState.NotSynchronized;
        foreach (var peer in node.Peers)
            SetReceivesWrites(node, peer, false);
        BroadcastStatus(node);
    }

    private void AbandonIncomingSync(Node node, Peer source)
    {
        if (node.SyncSource != source.Id || node.LocalState != ReplicaState.Synchronizing)
            return;
        node.SyncSource = null;
        node.LocalState = ReplicaState.NotSynchronized;
        BroadcastStatus(node);
    }

    /// <param name="decided">The loss was decided elsewhere: go on without deciding.</param>
    private Task RecordLoss(Node node, Peer peer, bool decided = false)
    {
        bool changed = SetReceivesWrites(node, peer, false);
        if (peer.SyncEpoch != 0)
            peer.SyncCancelled = true;
        Task task;
        if (peer.LossRecorded is { IsCompleted: false } deciding)
        {
            task = deciding;
        }
        else if (peer.RecordedState == ReplicaState.Synchronized && node.LocalState == ReplicaState.Synchronized && node.Serving)
        {
            task = peer.LossRecorded = decided
                ? Task.FromResult(ContinueWithout(node, peer))
                : DecideOnLoss(node, peer);
            changed = true;
        }
        else
        {
            // A synchronized copy that does not serve made no write the partner could miss: it keeps
            // the partner recorded synchronized.
            if (peer.RecordedState == ReplicaState.Synchronized && node.LocalState != ReplicaState.Synchronized)
            {
                peer.RecordedState = ReplicaState.NotSynchronized;
                peer.LossRecorded = Task.CompletedTask;
                changed = true;
            }
            task = peer.LossRecorded ?? Task.CompletedTask;
        }
        if (changed)
            BroadcastStatus(node);
        return task;
    }

    // ---------------------------------------------------------------- resync (instantaneous copy)

    /// <param name="serveOnceBegun">This node holds the copy to keep but does not serve yet: it serves once the partner receives its writes.</param>
    private void StartSync(Node node, Peer peer, bool serveOnceBegun = false)
    {
        if (peer.SyncEpoch != 0)
            return;
        if (peer.Epoch == 0 || (!node.Serving && !(serveOnceBegun && node.LocalState == ReplicaState.Synchronized)))
            return; // the real StartSync throws; every caller checks both first
        long epoch = peer.SyncEpoch = peer.Epoch; // the link checked here, not the one up when the task runs
        peer.SyncCancelled = false;
        _ = Spawn(node, () => RunSyncAsync(node, peer, epoch, serveOnceBegun));
    }

    /// <summary>RunSyncAsync: the copy itself takes no time; sync-begin and sync-end are real round trips.</summary>
    private async Task RunSyncAsync(Node node, Peer peer, long epoch, bool serveOnceBegun)
    {
        var begin = await Ask(node, new Message(Kind.SyncBegin, node.Id, peer.Id, Channel.Sync) { Epoch = epoch }, null);
        if (begin is not { Ok: true })
            Trace($"node {node.Id}: node {peer.Id} {(begin is null ? "is lost before it answers sync-begin" : "refuses to be synchronized")}");
        if (begin is { Ok: true })
        {
            SetReceivesWrites(node, peer, true);
            if (serveOnceBegun)
                StartServingAsSource(node, peer);
            if (!peer.SyncCancelled && !node.Serving)
                Trace($"node {node.Id}: stopped serving during the resync of node {peer.Id}; no sync-end");
            if (!peer.SyncCancelled && node.Serving)
            {
                Resyncs++;
                Trace($"node {node.Id} resynchronizes node {peer.Id}");
                // From the moment sync-end leaves, the target may serve even if its answer never
                // arrives: recorded synchronized (durably) first.
                peer.RecordedState = ReplicaState.Synchronized;
                var end = await Ask(node, new Message(Kind.SyncEnd, node.Id, peer.Id, Channel.Sync)
                {
                    Epoch = epoch,
                    Data = [.. node.Data],
                    Status = OwnStatus(node),
                }, null);
                if (end is { Ok: false })
                    peer.RecordedState = ReplicaState.NotSynchronized; // it answered, and not synchronized: it is not
                if (end is { Ok: true })
                {
                    peer.RecordedState = ReplicaState.Synchronized;
                    peer.SplitBrain = false;
                    peer.SyncEpoch = 0;
                    node.Suspects = false;
                    BroadcastStatus(node);
                    return;
                }
            }
        }
        peer.SyncEpoch = 0;
        if (peer.RecordedState != ReplicaState.Synchronized)
            SetReceivesWrites(node, peer, false);
        BroadcastStatus(node);
    }

    /// <summary>The partner now receives our writes: a copier waiting for that may serve.</summary>
    private void StartServingAsSource(Node node, Peer peer)
    {
        if (node.Serving || node.LocalState != ReplicaState.Synchronized || !StartsServingWith(node, peer))
            return;
        node.Serving = true;
        node.SuspendedBecause = null;
        Trace($"node {node.Id} serves while it resynchronizes node {peer.Id}");
        BroadcastStatus(node);
    }

    private void CompleteAsSyncTarget(Node node, Peer source, Message end)
    {
        node.Suspects = false;
        node.Data = [.. end.Data!, .. node.FromOthersDuringSync];
        node.Generation = end.Status!.Generation;
        node.History = [.. end.Status.History.Take(ReplicationHeader.MaxHistory)];
        node.LocalState = ReplicaState.Synchronized;
        node.SyncSource = null;
        source.RecordedState = ReplicaState.Synchronized;
        source.SplitBrain = false;
        Trace($"node {node.Id} synchronized from node {source.Id} (generation {node.Generation})");
        PairSynchronized(node, source);
        ReconsiderPartners(node); // a third partner at the generation we just adopted pairs now
        BroadcastStatus(node);
    }

    // ---------------------------------------------------------------- the failover strategy (ReplicatedDevice.Failover)

    private static bool Outranks(Node node, Peer peer) => FailoverStrategyText.Outranks(node.Member, peer.Member);

    /// <summary>A node that may lose stops serving from now (synchronously, as the real DecideOnLossAsync); the decision runs as its own task.</summary>
    private Task DecideOnLoss(Node node, Peer lost)
    {
        bool mayLose = _options.Strategy == FailoverStrategy.NodeMajority || !Outranks(node, lost) || node.Peers.Count > 1;
        if (mayLose)
            node.Deciding++;
        return Spawn(node, () => DecideOnLossAsync(node, lost, mayLose));
    }

    private async Task DecideOnLossAsync(Node node, Peer lost, bool mayLose)
    {
        Trace($"node {node.Id} decides about node {lost.Id}");
        var (outcome, reason) = await DecideAsync(node, lost);
        Trace($"node {node.Id} about node {lost.Id}: {outcome} ({reason}); node {lost.Id} is in fact {_nodes[lost.Id].LocalState.ToText()}{(_nodes[lost.Id].Alive ? "" : ", dead")}");
        switch (outcome)
        {
            case LossOutcome.Continue:
                ContinueWithout(node, lost);
                break;
            case LossOutcome.Yield:
                YieldTo(node, lost);
                break;
            default:
                Suspend(node, reason);
                break;
        }
        if (mayLose)
            node.Deciding--;
        if (lost.Epoch != 0 && lost.Announced is { } announced)
            OnPeerStatus(node, lost, announced);
    }

    private async Task<(LossOutcome, string)> DecideAsync(Node node, Peer lost)
    {
        foreach (var other in node.Peers)
        {
            if (other == lost || other.Epoch == 0 || !other.ReceivesWrites)
                continue;
            var (reaches, serving) = await ReachQueryAsync(node, other, lost.Id);
            if (!reaches || !serving)
                continue;
            if (FailoverRules.Contested(Outranks(node, lost)) == LossOutcome.Yield)
            {
                // Only to a node the third one still hears a whole link timeout later (a dead winner is not yielded to).
                if (!await StillReachedAsync(node, other, lost.Id))
                    continue;
                return (LossOutcome.Yield, $"node {lost.Id} outranks; node {other.Id} reaches both");
            }
            if (!await ConfirmStoppedAsync(node, lost))
                return WentOnWithoutUs(lost);
            return (LossOutcome.Continue, $"outranks node {lost.Id}; node {other.Id} reaches both");
        }
        if (_options.Strategy == FailoverStrategy.Heartbeat)
        {
            var heard = await ProbeAsync(node, lost);
            // A partner that answers but holds no current copy serves nothing: never yielded to.
            if (heard == PartnerAnswer.Behind)
                return (LossOutcome.Continue, "the partner answers its heartbeat but is not synchronized");
            bool answers = heard == PartnerAnswer.Current;
            if (FailoverRules.Heartbeat(answers, Outranks(node, lost)) == LossOutcome.Yield)
                return (LossOutcome.Yield, "heartbeat answers and the partner outranks");
            if (answers)
            {
                switch (await FenceAsync(node, lost))
                {
                    case FenceAnswer.WentOn:
                        return WentOnWithoutUs(lost);
                    case FenceAnswer.NoAnswer when !await ConfirmStoppedAsync(node, lost):
                        return WentOnWithoutUs(lost);
                }
                return (LossOutcome.Continue, "heartbeat answers and this node outranks");
            }
            HeartbeatTotalCut = true;
            return (LossOutcome.Continue, "SPLIT-BRAIN RISK: every sync and heartbeat channel is lost");
        }
        int total = VoteCount;
        int votes = 1 + node.Peers.Count(p => p != lost && p.Epoch != 0 && p.ReceivesWrites);
        var rule = FailoverRules.NodeMajority(votes, total, _options.Witness);
        if (_options.SkipQuorumCheck)
            rule = LossOutcome.Continue;
        switch (rule)
        {
            case LossOutcome.Continue:
                if (!await ConfirmStoppedAsync(node, lost))
                    return WentOnWithoutUs(lost);
                return (LossOutcome.Continue, $"keeps {votes} of {total} votes");
            case LossOutcome.Suspend:
                return (LossOutcome.Suspend, $"reaches {votes} of {total} votes");
        }
        var answer = await AskWitnessAsync(node, node.Generation, Generation.AfterLosing(node.Generation, lost.Id));
        if (FailoverRules.AfterWitness(answer.Verdict) == LossOutcome.Suspend)
            return (LossOutcome.Suspend, $"the witness does not vote for it ({answer.Verdict})");
        if (!await ConfirmStoppedAsync(node, lost))
            return WentOnWithoutUs(lost);
        return (LossOutcome.Continue, "the witness votes for it");
    }

    private static (LossOutcome, string) WentOnWithoutUs(Peer lost) => (LossOutcome.Yield, $"node {lost.Id} already went on without this node (it refused the fence)");

    private enum PartnerAnswer { None, Current, Behind }

    private enum FenceAnswer { Stopped, WentOn, NoAnswer }

    private int VoteCount => _options.NodeCount + (_options.Witness ? 1 : 0);

    /// <returns>False when the partner answered the fence that it already went on without us.</returns>
    private async Task<bool> ConfirmStoppedAsync(Node node, Peer lost)
    {
        if (_options.SkipConfirmationWait)
            return true;
        switch (await FenceAsync(node, lost))
        {
            case FenceAnswer.Stopped:
                return true;
            case FenceAnswer.WentOn:
                return false;
        }
        var wait = FailoverTimings.PartnerSurelyBlocked(_options.Timings);
        long since = lost.LinkDownAt < 0 ? _now : lost.LinkDownAt;
        while (Elapsed(node, since) < wait)
        {
            if (lost.Epoch != 0)
            {
                // It came back while we waited (links are refused meanwhile; this one slipped in): dropped, the wait starts again.
                FailLink(node, lost, "the failover strategy is still deciding about it");
                since = _now;
            }
            foreach (var other in node.Peers)
            {
                if (other == lost || other.Epoch == 0)
                    continue;
                var (reaches, serving) = await ReachQueryAsync(node, other, lost.Id);
                if (reaches && !serving)
                    return true;
                if (reaches)
                    since = _now;
            }
            await Delay(node, _options.Timings.HeartbeatInterval);
        }
        Trace($"node {node.Id}: node {lost.Id} has surely stopped");
        return true;
    }

    /// <summary>Whether <paramref name="other"/> still hears <paramref name="nodeId"/> serving for one link timeout and a heartbeat.</summary>
    private async Task<bool> StillReachedAsync(Node node, Peer other, int nodeId)
    {
        var window = FailoverTimings.PartnerSurelyBlocked(_options.Timings);
        long start = _now;
        while (Elapsed(node, start) < window)
        {
            await Delay(node, _options.Timings.HeartbeatInterval);
            if (other.Epoch == 0)
                return false;
            var (reaches, serving) = await ReachQueryAsync(node, other, nodeId);
            if (!reaches || !serving)
                return false;
        }
        return true;
    }

    private async Task<(bool Reaches, bool Serving)> ReachQueryAsync(Node node, Peer other, int nodeId)
    {
        var reply = await Ask(node, new Message(Kind.ReachQuery, node.Id, other.Id, Channel.Sync) { Epoch = other.Epoch, Value = nodeId },
            FailoverTimings.ProbeTimeout(_options.Timings));
        if (reply is not { Ok: true } ok)
            return (false, false);
        return ((ok.Value & 1) != 0, (ok.Value & 2) != 0);
    }

    private int ReachBits(Node node, int nodeId)
    {
        var peer = node.PeerOf(nodeId);
        if (peer.Epoch == 0 || Elapsed(node, peer.LastReceived) > _options.Timings.HeartbeatInterval * 3)
            return 0;
        return 1 | (peer.Announced is { Serving: true } && peer.ReceivesWrites ? 2 : 0);
    }

    /// <summary>A probe over the heartbeat channel, answered within the probe timeout with whether the copy is synchronized.</summary>
    private async Task<PartnerAnswer> ProbeAsync(Node node, Peer peer)
    {
        var reply = await Ask(node, new Message(Kind.Probe, node.Id, peer.Id, Channel.Heartbeat), FailoverTimings.ProbeTimeout(_options.Timings));
        return reply is not { Ok: true } ok ? PartnerAnswer.None : ok.Value == 1 ? PartnerAnswer.Current : PartnerAnswer.Behind;
    }

    /// <summary>A fence over the heartbeat channel, carrying our generation: OK (stopped), NotReady (it went on without us) or no answer.</summary>
    private async Task<FenceAnswer> FenceAsync(Node node, Peer peer)
    {
        var reply = await Ask(node, new Message(Kind.Fence, node.Id, peer.Id, Channel.Heartbeat) { Status = OwnStatus(node) },
            FailoverTimings.ProbeTimeout(_options.Timings));
        return reply switch
        {
            { Ok: true } => FenceAnswer.Stopped,
            { Ok: false } => FenceAnswer.WentOn, // NotReady
            _ => FenceAnswer.NoAnswer,
        };
    }

    private void HandleHeartbeatChannel(Node node, Message m)
    {
        if (m.Kind == Kind.Probe)
        {
            Answer(m, ok: true, value: node.LocalState == ReplicaState.Synchronized ? 1 : 0);
            return;
        }
        if (m.Kind != Kind.Fence)
            return;
        if (node.History.Contains(m.Status!.Generation))
        {
            Trace($"node {node.Id} refuses the fence of node {m.From}: it went on without it");
            Answer(m, ok: false);
            return;
        }
        Trace($"node {node.Id} fenced by node {m.From}");
        YieldTo(node, node.PeerOf(m.From));
        Answer(m, ok: !(node.Serving && node.Deciding == 0)); // NotReady while IsServing
    }

    /// <summary>Goes on without the partner: a new generation (persisting takes no time here, so the task is done at once).</summary>
    /// <param name="keepSending">It stopped serving for the node that lost it (a resolved partial partition): keep sending it writes.</param>
    /// <returns>Whether it went on (moved to the new generation).</returns>
    private bool ContinueWithout(Node node, Peer lost, bool keepSending = false)
    {
        if (lost.RecordedState == ReplicaState.Synchronized && lost.ReceivesWrites == keepSending && node.LocalState == ReplicaState.Synchronized && node.Serving)
        {
            lost.RecordedState = ReplicaState.NotSynchronized;
            node.History = Generation.Push(node.History, node.Generation);
            node.Generation = Generation.AfterLosing(node.Generation, lost.Id);
            Trace($"node {node.Id} continues without node {lost.Id} (generation {node.Generation})");
            BroadcastStatus(node);
            return true;
        }
        return false;
    }

    private void YieldTo(Node node, Peer winner)
    {
        if (node.LocalState == ReplicaState.NotSynchronized && node.YieldedTo == winner.Id)
            return;
        if (winner.Dirty)
            node.Suspects = true;
        node.YieldedTo = winner.Id;
        node.SuspendedBecause = null;
        if (node.LocalState != ReplicaState.NotSynchronized)
            BecomeStale(node, $"yields to node {winner.Id}");
        FailLink(node, winner, $"yields to node {winner.Id}");
    }

    private void Suspend(Node node, string reason)
    {
        if (!node.Serving || node.LocalState != ReplicaState.Synchronized)
            return;
        node.Serving = false;
        node.SuspendedBecause = reason;
        if (node.Peers.Any(p => p.Dirty))
            node.Suspects = true;
        Trace($"node {node.Id} QUORUM LOST: {reason}");
        BroadcastStatus(node);
    }

    // ---------------------------------------------------------------- node majority: quorum monitor and witness (ReplicatedDevice.Witness)

    private bool HoldsVote(Node node) => _now < node.VoteTrustedUntil;

    private async Task<WitnessAnswer> AskWitnessAsync(Node node, string generation, string next, bool force = false)
    {
        if (!_options.Witness)
            return WitnessAnswer.Unreachable("this device has no witness");
        var previous = node.WitnessTail;
        var mine = new TaskCompletionSource();
        node.WitnessTail = mine.Task;
        await previous;
        long start = _now;
        var request = new WitnessRequest(node.Id, generation, node.History, next, force);
        var reply = await Ask(node, new Message(Kind.VoteRequest, node.Id, WitnessId, Channel.Witness) { Vote = request }, _options.WitnessRequestTimeout);
        var answer = reply?.Answer ?? WitnessAnswer.Unreachable("no answer");
        if (answer.Verdict == WitnessVerdict.Granted)
            node.VoteTrustedUntil = start + Real(node, answer.Lease * WitnessLease.TrustedFraction);
        else if (answer.Verdict == WitnessVerdict.Refused)
            node.VoteTrustedUntil = 0;
        At(_now, () => mine.SetResult());
        return answer;
    }

    private void HandleAtWitness(Message m)
    {
        var now = TimeSpan.FromMilliseconds(_now / _witnessRate);
        if (m.Kind == Kind.VoteRelease)
        {
            _ballot!.Release(m.From, out _);
            return;
        }
        var request = m.Vote!;
        var before = _ballot!.State;
        var answer = _ballot.Decide(request, now, out _);
        if (answer.Verdict == WitnessVerdict.Granted)
        {
            // Check 4: never to a node older than the generation last voted for, and only to one holding every acknowledged write.
            if (!request.Force && before.Generation is { } voted && request.Generation != voted && !request.History.Contains(voted) &&
                !(request.NodeId == before.LastHolder && request.NextGeneration == voted))
            {
                Fail(4, $"the witness granted node {request.NodeId} at generation {request.Generation}, older than {voted} it voted for");
                return;
            }
            var node = _nodes[request.NodeId];
            if (_acked.Keys.FirstOrDefault(w => !node.Data.Contains(w)) is var missing and not 0)
            {
                Fail(4, $"the witness granted node {request.NodeId}, which lacks W{missing}, acknowledged at {_acked[missing]} ms");
                return;
            }
        }
        if (answer.Verdict != WitnessVerdict.Granted || before.Holder != request.NodeId)
            Trace($"witness: {answer.Verdict} to node {request.NodeId} (gen {request.Generation} -> {request.NextGeneration}; voted {before.Generation ?? "-"} for {before.LastHolder?.ToString() ?? "-"})");
        Answer(m, ok: true, answer: answer);
    }

    private async Task QuorumMonitorAsync(Node node)
    {
        var period = _options.Timings.HeartbeatInterval;
        long tick = _now;
        while (true)
        {
            tick += Real(node, period);
            if (tick > _now)
                await Delay(node, TimeSpan.FromMilliseconds((tick - _now) / node.Rate));
            else
                tick = _now; // ticks missed while the check ran: one at once, then on schedule
            await CheckQuorumAsync(node);
        }
    }

    private async Task CheckQuorumAsync(Node node)
    {
        if (node.LocalState != ReplicaState.Synchronized || node.Peers.Any(p => p.LossRecorded is { IsCompleted: false }))
            return;
        if (_options.SkipQuorumCheck)
        {
            // Broken on purpose: a node whose partners are away goes on alone after the start-up grace.
            var gone = node.Peers.Where(p => p.RecordedState == ReplicaState.Synchronized && p.Epoch == 0).ToList();
            if (node.Serving || gone.Count == 0 || Elapsed(node, node.Started) < FailoverTimings.StartupGrace(_options.Timings))
                return;
            foreach (var peer in gone)
                peer.RecordedState = ReplicaState.NotSynchronized;
            GoOnAlone(node, gone.Aggregate(node.Generation, (g, p) => Generation.AfterLosing(g, p.Id)), "no quorum check");
            return;
        }
        int total = VoteCount;
        int votes = 1 + node.Peers.Count(p => p.Epoch != 0 && p.ReceivesWrites);
        if (FailoverRules.HasMajority(votes, total))
        {
            if (node.VoteTrustedUntil != 0 && _options.Witness && node.Peers.All(p => p.ReceivesWrites && p.Epoch != 0))
            {
                node.VoteTrustedUntil = 0;
                Send(new Message(Kind.VoteRelease, node.Id, WitnessId, Channel.Witness));
            }
            return;
        }
        if (!_options.Witness)
        {
            if (node.Serving)
                Suspend(node, $"reaches {votes} of {total} votes");
            return;
        }
        if (_now < node.NextVoteAttempt)
        {
            if (node.Serving && !HoldsVote(node))
                Suspend(node, "the witness's vote lapsed");
            return;
        }
        node.NextVoteAttempt = _now + Real(node, _options.Lease / WitnessLease.RenewalsPerLease);
        string generation = node.Generation;
        if (node.Serving)
        {
            var renewal = await AskWitnessAsync(node, generation, generation);
            if (renewal.Verdict == WitnessVerdict.Refused || !HoldsVote(node))
                Suspend(node, $"the witness no longer votes for it ({renewal.Verdict})");
            return;
        }
        var away = node.Peers.Where(p => p.RecordedState == ReplicaState.Synchronized && p.Epoch == 0).ToList();
        if (away.Count > 0 && Elapsed(node, node.Started) < FailoverTimings.StartupGrace(_options.Timings))
            return;
        string next = away.Aggregate(generation, (g, p) => Generation.AfterLosing(g, p.Id));
        var answer = await AskWitnessAsync(node, generation, next);
        if (answer.Verdict != WitnessVerdict.Granted)
            return;
        if (node.Serving || node.LocalState != ReplicaState.Synchronized || node.Generation != generation)
            return;
        foreach (var peer in away)
        {
            SetReceivesWrites(node, peer, false);
            peer.RecordedState = ReplicaState.NotSynchronized;
        }
        GoOnAlone(node, next, "the witness votes for it");
        ReconsiderPartners(node);
    }

    private void GoOnAlone(Node node, string next, string reason)
    {
        if (next != node.Generation)
        {
            node.History = Generation.Push(node.History, node.Generation);
            node.Generation = next;
        }
        node.Serving = true;
        node.SuspendedBecause = null;
        Trace($"node {node.Id} serves: {reason} (generation {node.Generation})");
        BroadcastStatus(node);
    }

    // ---------------------------------------------------------------- checks and traces

    /// <summary>Check 1: two serving nodes whose writes would not reach each other.</summary>
    private void CheckNoDivergentServers()
    {
        for (int a = 1; a <= _options.NodeCount; a++)
        {
            for (int b = a + 1; b <= _options.NodeCount; b++)
            {
                Node na = _nodes[a], nb = _nodes[b];
                if (!na.IsServing || !nb.IsServing)
                    continue;
                if (!CompletesWithout(na.PeerOf(b)) && !CompletesWithout(nb.PeerOf(a)))
                    continue;
                Fail(1, $"nodes {a} and {b} both serve but do not replicate to each other ({Describe(na)}; {Describe(nb)})");
                return;
            }
        }
    }

    /// <summary>A write accepted now would complete without this partner: not sent to it, and no loss decision to wait for.</summary>
    private static bool CompletesWithout(Peer peer) =>
        !(peer.Epoch != 0 && peer.ReceivesWrites) && peer.LossRecorded is not { IsCompleted: false };

    private string Describe(Node node)
    {
        var peers = string.Join(", ", node.Peers.Select(p =>
            $"{p.Id}:{(p.Epoch != 0 ? "up" : "down")}{(p.ReceivesWrites ? "+writes" : "")} {p.RecordedState.ToText()}{(p.SplitBrain ? " SPLIT" : "")}{(p.LossRecorded is { IsCompleted: false } ? " loss-pending" : "")}{(p.SyncEpoch != 0 ? " syncing" : "")}"));
        string state = !node.Alive ? "dead" : node.IsServing ? "serving" : node.Serving ? "deciding" : node.SuspendedBecause is not null ? "suspended" : "not serving";
        return $"node {node.Id} {state}{(node.Deciding > 0 ? "(deciding)" : "")} {node.LocalState.ToText()} gen {node.Generation[..6]} prio {node.Member.Priority} rate {node.Rate:0.0000} [{peers}]";
    }

    private static string Name(int id) => id == WitnessId ? "witness" : $"node {id}";

    /// <summary>Every trace event, when set (debugging a seed).</summary>
    public List<string>? FullTrace { get; init; }

    private void Trace(string what)
    {
        string line = $"  {_now,7} ms (step {_step}): {what}";
        _trace[_traceCount % _trace.Length] = line;
        _traceCount++;
        FullTrace?.Add(line);
    }

    private IEnumerable<string> LastTrace()
    {
        int first = Math.Max(0, _traceCount - _trace.Length);
        for (int i = first; i < _traceCount; i++)
            yield return _trace[i % _trace.Length];
    }

    private void Fail(int check, string what)
    {
        if (_failure is not null)
            return;
        var message = new StringBuilder();
        message.Append($"Failover simulation seed {Seed} ({_options}) failed check {check} at {_now} ms (step {_step}): {what}.");
        message.Append($" Reproduce with TANDEM_SIM_SEED={Seed}.");
        for (int id = 1; id <= _options.NodeCount; id++)
            message.Append('\n').Append("  ").Append(Describe(_nodes[id]));
        message.Append("\nLast events:");
        foreach (string line in LastTrace())
            message.Append('\n').Append(line);
        _failure = message.ToString();
    }
}
