using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Tandem.Replication.Failover;

/// <summary>
/// The third vote kept as files on a share both data nodes mount (SMB or NFS):
/// <c>tandem witness add DEVICE --witness-path DIR</c>. A share runs no code of its own, so the
/// rules of <see cref="WitnessBallot"/> are kept by the data nodes through a chain of records that
/// only one node can extend at a time (docs/design/file-share-witness.md). Runs once per renewal
/// (a quarter lease), never on the I/O path.
/// </summary>
public sealed class FileShareWitness : IWitness
{
    /// <summary>
    /// How long one visit to the share may take before the answer is Unreachable: I/O on a dead
    /// NFS mount can hang for minutes, and a holder renews every quarter lease.
    /// </summary>
    public static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Records kept behind the head (older ones are pruned). A node whose last view is older than
    /// this many steps notices that its head is gone and reads the folder again.
    /// </summary>
    internal const int DefaultKeepRecords = 64;

    private readonly LeaseFolder _folder;
    private readonly LeaseChain _chain;
    private readonly TimeSpan _ioTimeout;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private Task? _work;
    private bool _disposed;

    /// <param name="directory">The folder on the share (the same share on both data nodes).</param>
    /// <param name="deviceNaaHex">The device's NAA identifier: the name of its folder in <paramref name="directory"/>.</param>
    /// <param name="lease">How long a vote holds (<see cref="WitnessLease.Default"/>); both nodes must use the same.</param>
    public FileShareWitness(string directory, string deviceNaaHex, TimeSpan lease, ILogger log)
        : this(directory, deviceNaaHex, lease, log, IoTimeout, DefaultKeepRecords)
    {
    }

    internal FileShareWitness(string directory, string deviceNaaHex, TimeSpan lease, ILogger log, TimeSpan ioTimeout, int keepRecords)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(keepRecords, 2);
        ArgumentNullException.ThrowIfNull(log);
        _folder = new LeaseFolder(Path.GetFullPath(directory), WitnessRequestRules.Device(deviceNaaHex));
        _chain = new LeaseChain(_folder, lease, Now, keepRecords, log);
        _ioTimeout = ioTimeout;
        _log = log;
        Description = $"file-share witness {_folder.Path}";
    }

    public string Description { get; }

    /// <summary>
    /// Creates the device's folder on the share: the step of <c>tandem witness add</c>. The witness
    /// itself never creates it, so that a share that is not mounted (an empty mount point) is
    /// unreachable rather than a private witness that votes for anyone.
    /// </summary>
    public static void Provision(string directory, string deviceNaaHex)
    {
        string share = Path.GetFullPath(directory);
        if (!Directory.Exists(share))
            throw new DirectoryNotFoundException($"The witness path {share} does not exist (is the share mounted?).");
        Directory.CreateDirectory(Path.Combine(share, LeaseFolder.FolderName(WitnessRequestRules.Device(deviceNaaHex))));
    }

    public Task<WitnessAnswer> RequestVoteAsync(WitnessRequest request, CancellationToken cancellationToken)
    {
        // Checked before any I/O: a malformed request is the caller's bug, not an unreachable share.
        WitnessRequestRules.Check(request);
        return RunAsync(() => _chain.Decide(request), answer => answer, cancellationToken);
    }

    public async Task ReleaseAsync(int nodeId, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeId);
        var answer = await RunAsync(() => { _chain.Release(nodeId); return true; }, _ => WitnessAnswer.Granted(TimeSpan.Zero), cancellationToken).ConfigureAwait(false);
        // The lease runs out by itself; a release that did not reach the share only delays the other node.
        if (answer.Verdict == WitnessVerdict.Unreachable)
            _log.LogWarning("{Witness}: release by replica {Node} did not reach the share: {Reason}", Description, nodeId, answer.Reason);
    }

    /// <summary>
    /// Runs one visit to the share on its own thread and waits at most the I/O timeout. A visit
    /// that hangs keeps its thread, and every later call answers Unreachable until it returns: at
    /// most one thread is ever stuck on a dead mount, and no two visits touch the chain at once.
    /// </summary>
    private async Task<WitnessAnswer> RunAsync<T>(Func<T> visit, Func<T, WitnessAnswer> answer, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_work is { IsCompleted: false })
                return Unreachable($"an earlier visit to {_folder.Share} has not returned (hung share?)");
            var work = Task.Factory.StartNew(visit, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            _work = work;
            try
            {
                return answer(await work.WaitAsync(_ioTimeout, cancellationToken).ConfigureAwait(false));
            }
            catch (TimeoutException)
            {
                return Unreachable($"{_folder.Share} did not answer within {_ioTimeout.TotalSeconds:0.#} s");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Unreachable(e.Message);
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    private WitnessAnswer Unreachable(string reason)
    {
        _log.LogWarning("{Witness} is unreachable: {Reason}", Description, reason);
        return WitnessAnswer.Unreachable(reason);
    }

    private static TimeSpan Now() => Stopwatch.GetElapsedTime(0);

    public ValueTask DisposeAsync()
    {
        // A visit still running on a hung share is abandoned with its thread; nothing waits for it.
        _disposed = true;
        return ValueTask.CompletedTask;
    }
}
