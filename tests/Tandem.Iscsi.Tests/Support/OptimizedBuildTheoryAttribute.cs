using System.Diagnostics;
using System.Reflection;

namespace Tandem.Iscsi.Tests.Support;

/// <summary>
/// A theory that runs only when Tandem.Iscsi is compiled with optimizations (Release, as CI runs it).
/// A Debug build compiles every async state machine as a class, so each async call allocates and an
/// allocation count says nothing about the code; those runs show the test as skipped, not passed.
/// </summary>
public sealed class OptimizedBuildTheoryAttribute : TheoryAttribute
{
    public OptimizedBuildTheoryAttribute()
    {
        DebuggableAttribute? debuggable = typeof(IscsiServer).Assembly.GetCustomAttribute<DebuggableAttribute>();
        if (debuggable?.IsJITOptimizerDisabled == true)
            Skip = "allocation counts need an optimized build of Tandem.Iscsi: run with -c Release";
    }
}
