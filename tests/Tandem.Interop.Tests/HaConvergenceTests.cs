using System.Security.Cryptography;
using Tandem.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tandem.Interop.Tests;

/// <summary>
/// Several initiators write overlapping random ranges concurrently through every node of a
/// two-way and a three-way HA device. Afterwards <c>tandem device verify</c> finds no difference
/// and every node's image file has the same SHA-256. The seed is printed; set
/// TANDEM_CONVERGENCE_SEED to replay one.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class HaConvergenceTests(ITestOutputHelper output)
{
    private const int BlockSize = 512;

    [Theory]
    [InlineData(2, 11)]
    [InlineData(2, 12)]
    [InlineData(3, 13)]
    public async Task Overlapping_writes_through_every_node_leave_identical_images(int nodeCount, int defaultSeed)
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("TANDEM_CONVERGENCE_SEED"), out int s) ? s : defaultSeed;
        output.WriteLine($"seed {seed}, {nodeCount} nodes");
        using var data = new TempDirectory();
        var (nodes, target) = await HaTests.StartSetAsync(data, "conv", 32L << 20, nodeCount, output);
        try
        {
            var sessions = new List<RawInitiator>();
            foreach (var (node, index) in nodes.Select((n, i) => (n, i)))
            {
                for (int k = 0; k < 2; k++)
                {
                    var session = await RawInitiator.ConnectAsync(node.PortalAddresses[0].ToString(), node.IscsiPort);
                    await session.LoginAsync($"iqn.2026-11.org.tandem.test:conv-{index}-{k}", target);
                    sessions.Add(session);
                }
            }

            var writers = sessions.Select((session, i) => Task.Run(async () =>
            {
                var random = new Random(seed * 100 + i);
                for (int n = 0; n < 300; n++)
                {
                    int blocks = random.Next(1, 33);
                    uint lba = (uint)random.Next(0, 2048 - blocks); // 1 MiB hot area: many overlaps
                    byte[] buffer = new byte[blocks * BlockSize];
                    random.NextBytes(buffer);
                    var result = await session.Write10Async(lba, buffer, BlockSize, fua: random.Next(8) == 0);
                    if (!result.IsGood)
                        throw new InvalidOperationException($"write {n} of session {i} at {lba}+{blocks} failed: {result} (seed {seed})");
                }
            })).ToArray();
            await Task.WhenAll(writers);
            foreach (var session in sessions)
                await session.DisposeAsync();

            var verify = await nodes[0].PostJsonAsync("api/v1/devices/conv/verify", null);
            output.WriteLine($"verify: {verify}");
            Assert.True(verify.GetProperty("identical").GetBoolean(), $"seed {seed}: {verify}");
            Assert.Equal(nodeCount, verify.GetProperty("comparedNodes").GetArrayLength());

            // Stopped cleanly, each node releases its image (and has flushed it).
            foreach (var node in nodes)
                Assert.Equal(0, await node.StopAsync());
            var hashes = nodes.Select(n => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(n.DataDirectory, "devices", "conv.img"))))).ToArray();
            output.WriteLine(string.Join("\n", hashes.Select((h, i) => $"node {i + 1}: {h}")));
            Assert.True(hashes.Distinct().Count() == 1, $"seed {seed}: image files differ");
        }
        finally
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
        }
    }
}
