using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Tcp;
using Microsoft.Extensions.Logging.Abstractions;
using static AgenticGateway.Tests.Edge.Support.EdgeTestConfig;

namespace AgenticGateway.Tests.Edge.Tcp;

/// <summary>UDP entry points: datagrams to a router's servers and replies back, sessions per client, idle timeout, weighted services.</summary>
[Trait("Category", "functional")]
public class UdpEntryPointTests
{
    /// <summary>A UDP server that answers each datagram with "name:" and the datagram.</summary>
    private sealed class UdpEcho : IDisposable
    {
        private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));

        public UdpEcho(string name)
        {
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    UdpReceiveResult received;
                    try { received = await _socket.ReceiveAsync(); }
                    catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
                    byte[] reply = [.. Encoding.ASCII.GetBytes(name + ":"), .. received.Buffer];
                    await _socket.SendAsync(reply, received.RemoteEndPoint);
                }
            });
        }

        public string Address => $"127.0.0.1:{((IPEndPoint)_socket.Client.LocalEndPoint!).Port}";
        public void Dispose() => _socket.Dispose();
    }

    private static async Task<UdpEntryPoint> StartAsync(EdgeDynamicConfig config, TimeSpan? timeout = null)
    {
        var entryPoint = EntryPoint("dns", udp: true, udpTimeout: timeout);
        var snapshot = Snapshot(config, Static(EntryPoint(), entryPoint));
        var udp = new UdpEntryPoint(entryPoint, () => snapshot, NullLogger.Instance);
        await udp.StartAsync(CancellationToken.None);
        return udp;
    }

    private static async Task<string> AskAsync(UdpClient client, IPEndPoint edge, string text)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes(text), edge);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var reply = await client.ReceiveAsync(timeout.Token);
        return Encoding.ASCII.GetString(reply.Buffer);
    }

    private static UdpSection Udp(IEnumerable<UdpServiceConfig> services, string service = "svc") => new(
        TcpSectionNames.Routers(new UdpRouterConfig("r", [], service, "udp.routers.r")),
        services.ToDictionary(s => s.Name, s => s, StringComparer.Ordinal).ToImmutableDictionary(StringComparer.Ordinal));

    [Fact]
    public async Task Datagrams_reach_the_server_and_replies_come_back_from_the_entry_point()
    {
        using var echo = new UdpEcho("a");
        await using var udp = await StartAsync(Dynamic(udp: Udp([new UdpLoadBalancerConfig("svc", "udp.services.svc", [echo.Address])])));
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Equal("a:one", await AskAsync(client, udp.LocalEndPoint!, "one"));
        Assert.Equal("a:two", await AskAsync(client, udp.LocalEndPoint!, "two"));
    }

    [Fact]
    public async Task Each_client_gets_its_own_session_and_servers_take_turns()
    {
        using var a = new UdpEcho("a");
        using var b = new UdpEcho("b");
        await using var udp = await StartAsync(Dynamic(udp: Udp([new UdpLoadBalancerConfig("svc", "udp.services.svc", [a.Address, b.Address])])));
        using var first = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var second = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        var one = await AskAsync(first, udp.LocalEndPoint!, "x");
        var two = await AskAsync(second, udp.LocalEndPoint!, "x");

        Assert.Equal(["a:x", "b:x"], new[] { one, two }.Order());
        // A session keeps its server.
        Assert.Equal(one, await AskAsync(first, udp.LocalEndPoint!, "x"));
    }

    [Fact]
    public async Task An_idle_session_ends_after_the_timeout_and_the_next_datagram_opens_a_new_one()
    {
        using var a = new UdpEcho("a");
        using var b = new UdpEcho("b");
        await using var udp = await StartAsync(Dynamic(udp: Udp([new UdpLoadBalancerConfig("svc", "udp.services.svc", [a.Address, b.Address])])), TimeSpan.FromMilliseconds(200));
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        var before = await AskAsync(client, udp.LocalEndPoint!, "x");
        await Task.Delay(700);
        var after = await AskAsync(client, udp.LocalEndPoint!, "x");

        Assert.NotEqual(before, after);
    }

    [Fact]
    public async Task Weighted_service_chooses_among_load_balancers()
    {
        using var a = new UdpEcho("a");
        await using var udp = await StartAsync(Dynamic(udp: Udp([
            new UdpLoadBalancerConfig("one", "udp.services.one", [a.Address]),
            new UdpWeightedConfig("w", "udp.services.w", [new WeightedService("one@file", 1)])], "w")));
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Equal("a:hi", await AskAsync(client, udp.LocalEndPoint!, "hi"));
    }

    [Fact]
    public void Unknown_services_and_entry_points_are_errors()
    {
        List<string> errors = [];
        var udp = new UdpSection(
            TcpSectionNames.Routers(new UdpRouterConfig("r", ["web", "nowhere"], "missing", "udp.routers.r")),
            Names.Empty<UdpServiceConfig>());

        Snapshot(Dynamic(udp: udp), Static(EntryPoint(), EntryPoint("dns", udp: true)), errors);

        Assert.Contains("udp.routers.r.service: unknown UDP service missing", errors);
        Assert.Contains("udp.routers.r.entryPoints: web is not a UDP entry point", errors);
        Assert.Contains("udp.routers.r.entryPoints: nowhere is not a UDP entry point", errors);
    }

    private static class TcpSectionNames
    {
        public static System.Collections.Immutable.ImmutableDictionary<string, UdpRouterConfig> Routers(params UdpRouterConfig[] routers) =>
            routers.ToImmutableDictionary(r => r.Name, StringComparer.Ordinal);
    }
}
