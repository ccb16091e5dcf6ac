namespace Tandem.Replication.Failover;

/// <summary>
/// The third vote of a two-node device under node majority (docs/design/failover.md, "Witness").
/// A witness gives its vote to one data node at a time, for a bounded lease, and only to a node
/// whose data is at least as new as the last generation it voted for: a stale node can never
/// regain quorum through it.
/// </summary>
public interface IWitness : IAsyncDisposable
{
    /// <summary>What the witness is, for logs and the API ("witness node 198.18.3.9:3261").</summary>
    string Description { get; }

    /// <summary>
    /// Asks for the vote (or renews it). The lease the answer grants runs from when the witness
    /// handled the request, which is after this call started; the caller counts the vote only
    /// until <c>start + Lease × <see cref="WitnessLease.TrustedFraction"/></c> on its own clock.
    /// Never throws for an unreachable witness: the answer says <see cref="WitnessVerdict.Unreachable"/>.
    /// </summary>
    Task<WitnessAnswer> RequestVoteAsync(WitnessRequest request, CancellationToken cancellationToken);

    /// <summary>Gives the vote back (the node reaches its partner again and needs no third vote).</summary>
    Task ReleaseAsync(int nodeId, CancellationToken cancellationToken);
}

/// <summary>A data node's request for the witness's vote.</summary>
/// <param name="NodeId">Replica id of the asking node.</param>
/// <param name="Generation">The asking node's current generation.</param>
/// <param name="History">Its earlier generations, newest first.</param>
/// <param name="NextGeneration">
/// The generation it moves to once it holds the vote (it continues without its partner); equal to
/// <paramref name="Generation"/> for a renewal. The witness records it before answering, so that a
/// node that continued alone can never be outvoted by the partner it left behind.
/// </param>
/// <param name="Force">
/// The administrator marked this node's copy synchronized: the generation check is skipped (the
/// lease check is not: a witness held by a live partner still refuses).
/// </param>
public sealed record WitnessRequest(int NodeId, string Generation, IReadOnlyList<string> History, string NextGeneration, bool Force = false);

public enum WitnessVerdict
{
    Granted,
    /// <summary>Held by the other node, or the asking node's data is older than the witness's generation.</summary>
    Refused,
    /// <summary>No answer (network, witness down, share unmounted).</summary>
    Unreachable,
}

/// <param name="Lease">How long the vote holds from when the witness granted it (zero unless granted).</param>
/// <param name="Reason">Why it was refused or unreachable, in words for the log and the API.</param>
public sealed record WitnessAnswer(WitnessVerdict Verdict, TimeSpan Lease, string Reason)
{
    public static WitnessAnswer Granted(TimeSpan lease) => new(WitnessVerdict.Granted, lease, "granted");
    public static WitnessAnswer Refused(string reason) => new(WitnessVerdict.Refused, TimeSpan.Zero, reason);
    public static WitnessAnswer Unreachable(string reason) => new(WitnessVerdict.Unreachable, TimeSpan.Zero, reason);
}

/// <summary>Lease timings shared by every kind of witness.</summary>
public static class WitnessLease
{
    /// <summary>How long a granted vote holds at the witness (default; tests shorten it).</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(8);

    /// <summary>
    /// The share of a lease a holder trusts, counted from before it asked: what is left covers clock
    /// rate differences between the nodes and the witness (durations only, never wall-clock times).
    /// </summary>
    public const double TrustedFraction = 0.75;

    /// <summary>A holder renews this often, per lease: three tries before its trust runs out.</summary>
    public const int RenewalsPerLease = 4;
}
