using System.Text.RegularExpressions;

namespace Tandem.Interop.Tests.Infrastructure;

/// <summary>The "Run Summary" table libiscsi's iscsi-test-cu prints (CUnit), plus its skip notices.</summary>
public sealed partial record CUnitSummary(int Total, int Ran, int Passed, int Failed, int Inactive, int SkipNotices, IReadOnlyList<string> FailedTests)
{
    public static CUnitSummary Parse(string output)
    {
        var tests = TestsRow().Match(output);
        if (!tests.Success)
            throw new FormatException("no CUnit run summary in iscsi-test-cu output:\n" + output);
        int At(int group) => int.Parse(tests.Groups[group].Value);
        var failed = FailedTest().Matches(output).Select(m => $"{m.Groups[1].Value}.{m.Groups[2].Value}").Distinct().ToList();
        return new CUnitSummary(At(1), At(2), At(3), At(4), At(5), SkipNotice().Count(output), failed);
    }

    public override string ToString() =>
        $"iscsi-test-cu: {Total} tests, {Ran} ran, {Passed} passed (incl. {SkipNotices} skip notices), {Failed} failed, {Inactive} inactive" +
        (FailedTests.Count > 0 ? "\nfailed: " + string.Join(", ", FailedTests) : "");

    [GeneratedRegex(@"^\s*tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex TestsRow();

    [GeneratedRegex(@"Suite (\S+), Test (\S+) had failures")]
    private static partial Regex FailedTest();

    [GeneratedRegex(@"\[SKIPPED\]")]
    private static partial Regex SkipNotice();
}
