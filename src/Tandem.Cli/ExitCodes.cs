namespace Tandem.Cli;

/// <summary>Exit codes of `tandem`, stable for scripts.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The node refused the request (API error), or `serve` failed to start or run.</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong (unknown option, bad size, missing argument).</summary>
    public const int Usage = 2;

    /// <summary>The node could not be reached.</summary>
    public const int Unreachable = 3;

    /// <summary>`device verify` ran and found replicas whose data differs.</summary>
    public const int DifferencesFound = 4;
}
