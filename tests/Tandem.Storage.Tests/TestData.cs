namespace Tandem.Storage.Tests;

internal static class TestData
{
    /// <summary>Deterministic, position-dependent bytes so a misplaced block is detected.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
