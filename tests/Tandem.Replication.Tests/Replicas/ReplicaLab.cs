using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Tandem.Replication.Links;
using Tandem.Replication.Replicas;
using Tandem.Storage;

namespace Tandem.Replication.Tests.Replicas;

/// <summary>
/// Two or three replicas of one device in this process, each with its own RAM copy and its own
/// replication listener on 127.0.0.1, linked over real TCP. Nodes can be stopped and restarted
/// with the header they last persisted (the copy's data survives, as an image file would).
/// </summary>
internal sealed class ReplicaLab : IAsyncDisposable
{
    public const int BlockSize = 512;
    // Quick heartbeats and redials, but a timeout long enough that a loaded CI machine never
    // declares a live partner lost (these tests are about data, not about partitions).
    public static readonly LinkTimings FastTimings = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));

    private readonly ClusterCredentials _cluster = ClusterCredentials.CreateNew();
    private readonly byte[] _naa = Convert.FromHexString("6001405a1b2c3d4e5f60718293a4b5c6");
    private readonly Node[] _nodes;

    private readonly TempDirectory? _journals;
    private readonly LinkCutter[] _cutters;

    /// <summary>Cuts the links into node <paramref name="id"/> (those its lower-id partners dial).</summary>
    public void CutLinksInto(int id) => _cutters[id - 1].Cut();

    public void HealLinksInto(int id) => _cutters[id - 1].Heal();

    /// <summary>Resync rate cap of nodes started from now on (0: none).</summary>
    public long SyncRateLimit { get; set; }

    /// <summary>Link timings of every node (<see cref="FastTimings"/> unless the test chose others).</summary>
    public LinkTimings Timings { get; }

    public ReplicaLab(int nodes, long sizeBytes, string state = "synchronized", bool journals = false, bool thinImages = false, LinkTimings? timings = null)
    {
        Timings = timings ?? FastTimings;
        _journals = journals || thinImages ? new TempDirectory() : null;
        string generation = Generation.NewRandom();
        _nodes = new Node[nodes];
        for (int i = 0; i < nodes; i++)
            _nodes[i] = new Node(this, i + 1, thinImages
                ? ImageFileDevice.Create(_journals!.File($"lab{i + 1}.img"), sizeBytes, BlockSize, Provisioning.Thin)
                : new RamDevice(sizeBytes, BlockSize));
        // Every node is reached through a relay, so that a test can cut the links into it.
        _cutters = _nodes.Select(n => new LinkCutter(n.Listener.Endpoints[0])).ToArray();
        var members = _nodes.Select(n => new ReplicaNodeHeader
        {
            NodeId = n.Id,
            Api = $"127.0.0.1:{3261 + n.Id}",
            SyncChannels = [_cutters[n.Id - 1].Endpoint.ToString()],
            State = state,
        }).ToArray();
        foreach (var node in _nodes)
        {
            node.Persisted = new ReplicationHeader
            {
                ClusterId = _cluster.ClusterId.ToString(),
                LocalNodeId = node.Id,
                Nodes = members,
                State = state,
                Generation = generation,
            };
        }
    }

    public Node this[int id] => _nodes[id - 1];
    public IEnumerable<Node> Nodes => _nodes;

    /// <summary>Starts (or restarts) every node.</summary>
    public void StartAll()
    {
        foreach (var node in _nodes)
            node.Start();
    }

    public async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutMs = 15000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Timed out waiting until {what}. States: {Describe()}");
            await Task.Delay(20);
        }
    }

    public string Describe() => string.Join("; ", _nodes.Select(n => n.Device is { } d
        ? $"node {n.Id}: {d.LocalState} serving={d.IsServing} peers=[{string.Join(",", d.Peers.Select(p => $"{p.Id}:{p.RecordedState}/recv={p.ReceivesWrites}/link={p.Link?.IsUp == true}/dirty={p.Bitmap.DirtyExtents}/sync={p.Sync?.Percent:0}"))}]"
        : $"node {n.Id}: stopped"));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
            await node.DisposeAsync();
        foreach (var cutter in _cutters)
            await cutter.DisposeAsync();
        _journals?.Dispose();
    }

    internal sealed class Node : IAsyncDisposable
    {
        private readonly ReplicaLab _lab;

        public Node(ReplicaLab lab, int id, IBlockDevice storage)
        {
            _lab = lab;
            Id = id;
            Storage = new KeepOpen(storage);
            Listener = new ReplicationListener([new IPEndPoint(IPAddress.Loopback, 0)], naa => naa.AsSpan().SequenceEqual(_lab._naa) ? Device : null,
                NullLogger.Instance, lab.Timings);
            Listener.Start();
        }

        public int Id { get; }
        public KeepOpen Storage { get; }
        public ReplicationListener Listener { get; }
        public ReplicatedDevice? Device { get; private set; }
        public ReplicationHeader Persisted { get; set; } = null!;

        public void Start()
        {
            Device = new ReplicatedDevice(Storage, new ReplicaSetOptions
            {
                Header = Persisted,
                Cluster = _lab._cluster,
                DeviceNaa = _lab._naa,
                Persist = (header, _) =>
                {
                    Persisted = header;
                    return Task.CompletedTask;
                },
                Timings = _lab.Timings,
                SyncRateLimit = _lab.SyncRateLimit,
                DeviceName = $"lab{Id}",
                JournalPath = _lab._journals?.File($"lab{Id}.inflight"),
            });
            Device.Start();
        }

        /// <summary>Kills the replica as SIGKILL would: no clean shutdown, data and journal kept.</summary>
        public async Task CrashAsync()
        {
            if (Device is { } device)
            {
                Device = null;
                await device.SimulateCrashAsync();
            }
        }

        /// <summary>Stops the replica (its partners see the link drop) but keeps its data.</summary>
        public async Task StopAsync()
        {
            if (Device is { } device)
            {
                Device = null;
                await device.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            await Listener.DisposeAsync();
            await Storage.Inner.DisposeAsync();
        }

        public byte[] ReadAll()
        {
            byte[] data = new byte[Storage.BlockCount * BlockSize];
            Storage.ReadAsync(0, data).AsTask().GetAwaiter().GetResult();
            return data;
        }
    }

    /// <summary>The copy outlives a replica's restart, as an image file does.</summary>
    internal sealed class KeepOpen(IBlockDevice inner) : IBlockDevice
    {
        /// <summary>While set, writes wait for it first: a disk that has stalled.</summary>
        public Task? WriteGate { get; set; }

        public int BlockSize => inner.BlockSize;
        public long BlockCount => inner.BlockCount;
        public bool IsThinProvisioned => inner.IsThinProvisioned;
        public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(lba, buffer, cancellationToken);
        public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> data, WriteFlags flags = WriteFlags.None, CancellationToken cancellationToken = default) =>
            WriteGate is { } gate ? WriteAfterAsync(gate, lba, data, flags, cancellationToken) : inner.WriteAsync(lba, data, flags, cancellationToken);

        private async ValueTask WriteAfterAsync(Task gate, long lba, ReadOnlyMemory<byte> data, WriteFlags flags, CancellationToken cancellationToken)
        {
            await gate;
            await inner.WriteAsync(lba, data, flags, cancellationToken);
        }

        /// <summary>Gathered writes of more than one piece so far, and the pieces they carried.</summary>
        public (int Writes, int Pieces) Gathered
        {
            get
            {
                lock (this)
                    return _gathered;
            }
        }
        private (int Writes, int Pieces) _gathered;

        /// <summary>While set, gathered writes fail with it: a disk that fails a partner's batch.</summary>
        public IOException? GatheredWriteFault { get; set; }

        public ValueTask WriteGatheredAsync(long lba, IReadOnlyList<ReadOnlyMemory<byte>> pieces, CancellationToken cancellationToken = default)
        {
            if (pieces.Count > 1)
            {
                lock (this)
                    _gathered = (_gathered.Writes + 1, _gathered.Pieces + pieces.Count);
            }
            if (GatheredWriteFault is { } fault)
                return ValueTask.FromException(fault);
            return WriteGate is { } gate ? WriteGatheredAfterAsync(gate, lba, pieces, cancellationToken) : inner.WriteGatheredAsync(lba, pieces, cancellationToken);
        }

        private async ValueTask WriteGatheredAfterAsync(Task gate, long lba, IReadOnlyList<ReadOnlyMemory<byte>> pieces, CancellationToken cancellationToken)
        {
            await gate;
            await inner.WriteGatheredAsync(lba, pieces, cancellationToken);
        }

        /// <summary>Flushes asked of this copy so far.</summary>
        public int Flushes => Volatile.Read(ref _flushes);
        private int _flushes;

        /// <summary>While set, every flush fails with it: a disk that lost writes.</summary>
        public IOException? FlushFault { get; set; }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _flushes);
            return FlushFault is { } fault ? ValueTask.FromException(fault) : inner.FlushAsync(cancellationToken);
        }

        public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => inner.UnmapAsync(lba, blockCount, cancellationToken);
        public ValueTask<LbaExtent> GetLbaStatusAsync(long lba, CancellationToken cancellationToken = default) => inner.GetLbaStatusAsync(lba, cancellationToken);
        public ValueTask ResizeAsync(long newBlockCount, CancellationToken cancellationToken = default) => inner.ResizeAsync(newBlockCount, cancellationToken);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public IBlockDevice Inner => inner;
    }
}
