namespace Tandem.Node.Errors;

/// <summary>
/// Stable, snake_case error codes shared by the management API, the CLI and the logs.
/// Scripts match on these, so existing values never change meaning.
/// </summary>
public static class ErrorCodes
{
    public const string InvalidArgument = "invalid_argument";
    public const string InvalidName = "invalid_name";
    public const string InvalidSize = "invalid_size";
    public const string InvalidJson = "invalid_json";
    public const string NotFound = "not_found";
    public const string AlreadyExists = "already_exists";
    public const string Unauthorized = "unauthorized";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string DeviceUnavailable = "device_unavailable";
    public const string IoError = "io_error";
    public const string ConfigError = "config_error";
    public const string BindFailed = "bind_failed";
    public const string PayloadTooLarge = "payload_too_large";
    public const string Unavailable = "unavailable";
    public const string Internal = "internal";

    /// <summary>A partner node could not be reached or refused a request (message names it and its answer).</summary>
    public const string PartnerError = "partner_error";

    /// <summary>The HA device is not in a state that allows the operation (e.g. a partner is not synchronized).</summary>
    public const string ReplicaState = "replica_state";

    /// <summary>The partner node belongs to another cluster.</summary>
    public const string ClusterMismatch = "cluster_mismatch";
}
