using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tandem.Node.HighAvailability;
using Tandem.Node.Tests.Support;
using Tandem.Replication.Failover;
using Tandem.Replication.Links;
using Tandem.Storage;

namespace Tandem.Node.Tests.Witness;

/// <summary>WitnessNodeClient against a real witness node, a closed port and a silent one: every outcome is an answer, quickly.</summary>
public class WitnessNodeClientTests
{
    private const string Naa = "6a5d0e0123456789abcdef0123456789";
    private const string G1 = "1111111111111111";

    private static WitnessRequest Ask(int node) => new(node, G1, [], G1);

    [Fact]
    public async Task Granted_refused_and_released_as_the_witness_node_decides()
    {
        await using var node = await TestNode.StartAsync();
        var cluster = ClusterCredentials.CreateNew();
        (await WitnessApiTests.MakeWitnessAsync(node, cluster)).Dispose();
        await using var witness = new WitnessNodeClient(node.Node.ApiEndpoint.ToString(), Naa.ToUpperInvariant(), cluster.SecretBase64);
        Assert.Equal($"witness node {node.Node.ApiEndpoint}", witness.Description);

        Assert.Equal(WitnessAnswer.Granted(WitnessLease.Default), await witness.RequestVoteAsync(Ask(1), CancellationToken.None));
        var refused = await witness.RequestVoteAsync(Ask(2), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Refused, refused.Verdict);
        Assert.Contains("votes for replica 1", refused.Reason);

        await witness.ReleaseAsync(1, CancellationToken.None);
        Assert.Null(node.Node.Witnesses.Get(Naa).Holder);
        Assert.Equal(WitnessVerdict.Granted, (await witness.RequestVoteAsync(Ask(2), CancellationToken.None)).Verdict);
    }

    [Fact]
    public async Task An_unknown_device_or_a_wrong_secret_is_no_vote()
    {
        await using var node = await TestNode.StartAsync();
        var cluster = ClusterCredentials.CreateNew();
        (await WitnessApiTests.MakeWitnessAsync(node, cluster)).Dispose();

        await using var unknown = new WitnessNodeClient(node.Node.ApiEndpoint.ToString(), "6a5d0e00000000000000000000000042", cluster.SecretBase64);
        var answer = await unknown.RequestVoteAsync(Ask(1), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("(404): not_found", answer.Reason);

        await using var stranger = new WitnessNodeClient(node.Node.ApiEndpoint.ToString(), Naa, ClusterCredentials.CreateNew().SecretBase64);
        answer = await stranger.RequestVoteAsync(Ask(1), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("(401): unauthorized", answer.Reason);
        await stranger.ReleaseAsync(1, CancellationToken.None); // no exception either
        Assert.Null(node.Node.Witnesses.Get(Naa).Holder);
    }

    [Fact]
    public async Task A_closed_port_answers_unreachable_at_once()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = listener.LocalEndpoint.ToString()!;
        listener.Stop();

        await using var witness = new WitnessNodeClient(address, Naa, ClusterCredentials.CreateNew().SecretBase64);
        var watch = Stopwatch.StartNew();
        var answer = await witness.RequestVoteAsync(Ask(1), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.StartsWith($"witness node {address} is unreachable", answer.Reason);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), watch.Elapsed.ToString());
    }

    [Fact]
    public async Task A_witness_that_never_answers_is_unreachable_within_the_timeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var accepted = new CancellationTokenSource();
        var held = new List<Socket>();
        var accepting = Task.Run(async () =>
        {
            while (!accepted.IsCancellationRequested)
                held.Add(await listener.AcceptSocketAsync(accepted.Token));
        });
        try
        {
            await using var witness = new WitnessNodeClient(listener.LocalEndpoint.ToString()!, Naa, ClusterCredentials.CreateNew().SecretBase64);
            var watch = Stopwatch.StartNew();
            var answer = await witness.RequestVoteAsync(Ask(1), CancellationToken.None);
            Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
            Assert.Contains("no answer within 2 s", answer.Reason);
            Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(5));

            // The caller's own cancellation is not an answer: it propagates.
            using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => witness.RequestVoteAsync(Ask(1), cancelled.Token));
        }
        finally
        {
            accepted.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accepting);
            listener.Stop();
            foreach (var socket in held)
                socket.Dispose();
        }
    }

    [Fact]
    public async Task The_factory_opens_a_witness_node_client_or_the_file_share_seam()
    {
        var secret = ClusterCredentials.CreateNew().SecretBase64;
        await using var byAddress = WitnessFactory.Create(new WitnessHeader { Address = "127.0.0.1:1" }, Naa, secret, null);
        Assert.Equal("witness node 127.0.0.1:1", Assert.IsType<WitnessNodeClient>(byAddress).Description);

        var share = new WitnessHeader { Path = "/mnt/witness" };
        await using var none = WitnessFactory.Create(share, Naa, secret, null);
        var answer = await none.RequestVoteAsync(Ask(1), CancellationToken.None);
        Assert.Equal(WitnessVerdict.Unreachable, answer.Verdict);
        Assert.Contains("cannot open file-share witnesses", answer.Reason);

        (WitnessHeader, string)? asked = null;
        await using var opened = WitnessFactory.Create(share, Naa, secret, (header, naa) =>
        {
            asked = (header, naa);
            return none;
        });
        Assert.Same(none, opened);
        Assert.Equal((share, Naa), asked);
    }
}
