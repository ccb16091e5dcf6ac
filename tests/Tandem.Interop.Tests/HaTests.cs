using System.Net;
using System.Text.Json;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// Two real nodes (127.0.0.1 and 127.0.0.2) with one two-way HA device, made with the CLI's
/// <c>replica add</c>: libiscsi's conformance suite through each node and through both as paths.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class HaTests(ITestOutputHelper output)
{
    internal static async Task<(TandemNode A, TandemNode B, string Target)> StartPairAsync(TempDirectory data, string name, long sizeBytes, ITestOutputHelper output)
    {
        var a = await TandemNode.StartAsync(data.Combine("a"), [IPAddress.Parse("127.0.0.1")], "node-a");
        TandemNode? b = null;
        try
        {
            b = await TandemNode.StartAsync(data.Combine("b"), [IPAddress.Parse("127.0.0.2")], "node-b");
            var device = await a.CreateDeviceAsync(new { name, type = "image", sizeBytes, provisioning = "thick", sectorSize = 512 });
            var target = device.GetProperty("targetName").GetString()!;
            var add = await ExternalTool.RunAsync("dotnet",
                [TandemNode.TandemDll, "replica", "add", name, "--partner", b.ApiEndPoint, "--partner-password", TandemNode.AdminPassword,
                    "--init", "synchronize", "--server", a.ApiEndPoint, "--password", TandemNode.AdminPassword], TimeSpan.FromMinutes(2));
            output.WriteLine(add.StdOut);
            Assert.True(add.ExitCode == 0, $"replica add failed: {add}\nA:\n{a.Log}\nB:\n{b.Log}");
            await WaitSynchronizedAsync(a, b, name);
            return (a, b, target);
        }
        catch
        {
            await a.DisposeAsync();
            if (b is not null)
                await b.DisposeAsync();
            throw;
        }
    }

    internal static async Task WaitSynchronizedAsync(TandemNode a, TandemNode b, string name, int timeoutSeconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var setA = await a.GetJsonAsync($"api/v1/devices/{name}/replicas");
            var setB = await b.GetJsonAsync($"api/v1/devices/{name}/replicas");
            last = $"A: {setA}\nB: {setB}";
            if (AllSynchronized(setA) && AllSynchronized(setB))
                return;
            await Task.Delay(200);
        }
        throw new TimeoutException($"replicas did not synchronize:\n{last}\nA log:\n{a.Log}\nB log:\n{b.Log}");
    }

    private static bool AllSynchronized(JsonElement set) =>
        set.GetProperty("state").GetString() == "synchronized" &&
        set.GetProperty("nodes").EnumerateArray().All(n => n.GetProperty("state").GetString() == "synchronized" &&
            n.GetProperty("aluaState").GetString()!.StartsWith("active"));

    [Fact]
    public async Task IscsiTestCu_through_each_node_and_both_paths_of_a_two_way_device()
    {
        using var data = new TempDirectory();
        var (a, b, target) = await StartPairAsync(data, "ha-cu", 256L << 20, output);
        await using (a)
        await using (b)
        {
            var pathA = a.LunUrl(target);
            var pathB = b.LunUrl(target);
            foreach (var paths in new[] { new[] { pathA, pathB }, new[] { pathB } })
            {
                var result = await ExternalTool.RunAsync("iscsi-test-cu", ["-d", "-n", .. paths], TimeSpan.FromMinutes(10));
                var summary = CUnitSummary.Parse(result.StdOut);
                output.WriteLine($"{string.Join(" ", paths)}: {summary}");
                if (summary.Failed > 0)
                    output.WriteLine(result.StdOut);
                Assert.True(summary.Ran >= 600, $"only {summary.Ran} tests ran\n{result}");
                if (paths.Length == 2)
                    Assert.DoesNotContain("Multipath unavailable", result.StdOut);
                Assert.True(summary.Failed == 0, $"{summary}\n\nA log:\n{a.Log}\nB log:\n{b.Log}");
            }

            var verify = await a.PostJsonAsync("api/v1/devices/ha-cu/verify", null);
            Assert.True(verify.GetProperty("identical").GetBoolean(), verify.ToString());
        }
    }
}
