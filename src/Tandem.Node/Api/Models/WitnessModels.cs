namespace Tandem.Node.Api.Models;

/// <summary>
/// Body of POST /api/v1/devices/{name}/witness on a data node: the third vote of a two-node,
/// node-majority device. Exactly one of <see cref="Address"/> and <see cref="Path"/>.
/// </summary>
public sealed record AddWitnessRequest
{
    /// <summary>Management API ("host:port") of a Tandem node that is to hold the witness device.</summary>
    public string? Address { get; init; }

    /// <summary>Absolute path of a shared folder (SMB/NFS), mounted on both data nodes, for the lease file.</summary>
    public string? Path { get; init; }

    /// <summary>Administrator of the witness node (default "admin"); used once, to join it to the cluster.</summary>
    public string? WitnessUser { get; init; }

    public string? WitnessPassword { get; init; }
}

/// <summary>Body of POST /api/v1/witness/devices on a witness node.</summary>
public sealed record CreateWitnessDeviceRequest
{
    /// <summary>NAA identifier of the HA device (32 hex digits): the witness device's key.</summary>
    public string? Naa { get; init; }

    /// <summary>The HA device's name, for the administrator.</summary>
    public string? Device { get; init; }

    /// <summary>Optional: the cluster of the HA device; the witness node must be in it.</summary>
    public string? ClusterId { get; init; }
}

/// <summary>A witness device as its witness node reports it (GET /api/v1/witness/devices).</summary>
/// <param name="Holder">Replica id holding the vote, or null.</param>
/// <param name="Generation">The generation the witness last voted for, or null if it never voted.</param>
/// <param name="LastHolder">Replica id that vote went to.</param>
public sealed record WitnessDeviceDto(string Device, string Naa, int? Holder, string? Generation, int? LastHolder);

/// <summary>Body of POST /api/v1/witness/devices/{naa}/vote: a data node asks for the vote (see WitnessRequest).</summary>
public sealed record WitnessVoteRequest
{
    public int? NodeId { get; init; }
    public string? Generation { get; init; }
    public IReadOnlyList<string>? History { get; init; }
    public string? NextGeneration { get; init; }
    public bool? Force { get; init; }
}

/// <summary>Answer of a vote request.</summary>
/// <param name="Verdict">"granted" or "refused".</param>
/// <param name="LeaseMilliseconds">How long the vote holds from when the witness granted it (0 unless granted).</param>
/// <param name="Reason">Why, in words.</param>
public sealed record WitnessAnswerDto(string Verdict, long LeaseMilliseconds, string Reason);

/// <summary>Body of POST /api/v1/witness/devices/{naa}/release.</summary>
public sealed record WitnessReleaseRequest
{
    public int? NodeId { get; init; }
}
