using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Tcp;
using AgenticGateway.Tests.Edge.Support;
using static AgenticGateway.Tests.Edge.Support.EdgeTestConfig;

namespace AgenticGateway.Tests.Edge.Tcp;

/// <summary>TCP routers on an entry point: SNI passthrough and termination, HostSNI(`*`), ClientIP, server-first protocols, PROXY protocol both ways, balancing, TCP middlewares.</summary>
[Trait("Category", "functional")]
public class EdgeTcpRoutingTests
{
    private static readonly TestPki Pki = new();

    private static async Task<Stream> ConnectAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port);
        return client.GetStream();
    }

    private static async Task<string> EchoAsync(Stream stream, string name, string text)
    {
        var greeting = await StreamReads.ReadExactlyAsync(stream, name.Length + 1);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text));
        return greeting + await StreamReads.ReadExactlyAsync(stream, text.Length);
    }

    [Fact]
    public async Task HostSNI_passthrough_forwards_the_TLS_bytes_to_the_backend_which_terminates_them()
    {
        await using var backend = TcpBackend.Echo("db", TestPki.SelfSigned("db.test"));
        var config = Dynamic(
            tcpRouters: [TcpRouter("db", "HostSNI(`db.test`)", "db", new RouterTlsConfig(null, null, [], Passthrough: true))],
            tcpServices: [TcpService("db", servers: (backend.Address, false, 1))],
            tls: Tls([Pki.Server("db.test")]));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var ssl = await host.TlsAsync("db.test");

        // The backend's own self-signed certificate, not the edge's: the edge did not terminate.
        Assert.Equal("CN=db.test", ssl.RemoteCertificate!.Issuer);
        Assert.Equal("db:hello", await EchoAsync(ssl, "db", "hello"));
    }

    [Fact]
    public async Task HostSNI_termination_decrypts_at_the_edge_and_sends_plain_bytes_to_the_backend()
    {
        await using var backend = TcpBackend.Echo("plain");
        var config = Dynamic(
            tcpRouters: [TcpRouter("term", "HostSNI(`term.test`)", "plain", new RouterTlsConfig(null, null, []))],
            tcpServices: [TcpService("plain", servers: (backend.Address, false, 1))],
            tls: Tls([Pki.Server("term.test")]));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var ssl = await host.TlsAsync("term.test");

        Assert.Equal("term.test", ((X509Certificate2)ssl.RemoteCertificate!).GetNameInfo(X509NameType.SimpleName, false));
        Assert.Equal("plain:ping", await EchoAsync(ssl, "plain", "ping"));
    }

    [Fact]
    public async Task TLS_for_another_name_still_reaches_HTTP_and_HTTPS_routers_win_over_a_TLS_catch_all()
    {
        await using var backend = TcpBackend.Echo("catchall");
        var config = Dynamic(
            tcpRouters: [TcpRouter("all", "HostSNI(`*`)", "svc", new RouterTlsConfig(null, null, [], Passthrough: true)), TcpRouter("term", "HostSNI(`term.test`)", "svc", new RouterTlsConfig(null, null, []))],
            tcpServices: [TcpService("svc", servers: (backend.Address, false, 1))],
            httpRouters: [HttpsRouter("web", "Host(`www.test`)")],
            tls: Tls([Pki.Server("www.test")]));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using (var https = await host.TlsAsync("www.test"))
            Assert.Equal("HTTP/1.1 https 127.0.0.1", await EdgeTestHost.GetAsync(https));
        // Any other name goes to the passthrough catch-all: the backend reads the raw ClientHello.
        await using var raw = await ConnectAsync(host.Port);
        var ssl = new SslStream(raw);
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "other.test", RemoteCertificateValidationCallback = static (_, _, _, _) => true });
        await Assert.ThrowsAnyAsync<Exception>(() => handshake.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, backend.Connections);
    }

    [Fact]
    public async Task HostSNI_star_takes_plain_connections_and_server_first_protocols_need_no_client_bytes()
    {
        await using var backend = TcpBackend.Start(async (stream, _) =>
        {
            await stream.WriteAsync("220 ready\r\n"u8.ToArray());
            await stream.FlushAsync();
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer);
            await stream.WriteAsync(buffer.AsMemory(0, read));
        });
        var config = Dynamic(tcpRouters: [TcpRouter("smtp", "HostSNI(`*`)", "smtp")], tcpServices: [TcpService("smtp", servers: (backend.Address, false, 1))]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var client = await ConnectAsync(host.Port);

        Assert.Equal("220 ready\r\n", await StreamReads.ReadExactlyAsync(client, 11));
        await client.WriteAsync("EHLO x\r\n"u8.ToArray());
        Assert.Equal("EHLO x\r\n", await StreamReads.ReadExactlyAsync(client, 8));
    }

    [Fact]
    public async Task ClientIP_rule_takes_matching_clients_and_others_fall_through_to_HTTP()
    {
        await using var backend = TcpBackend.Echo("local");
        var matching = Dynamic(tcpRouters: [TcpRouter("local", "ClientIP(`127.0.0.0/8`)", "svc")], tcpServices: [TcpService("svc", servers: (backend.Address, false, 1))],
            httpRouters: [HttpsRouter("web", "Host(`www.test`)")]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(matching, Static(EntryPoint())));

        await using (var client = await ConnectAsync(host.Port))
        {
            await client.WriteAsync("hi"u8.ToArray());
            Assert.Equal("local:hi", await StreamReads.ReadExactlyAsync(client, 8));
        }

        host.Snapshot = Snapshot(matching with { Tcp = matching.Tcp with { Routers = matching.Tcp.Routers.SetItem("local", TcpRouter("local", "ClientIP(`10.0.0.0/8`)", "svc")) } }, Static(EntryPoint()));
        await using (var other = await ConnectAsync(host.Port))
            Assert.Equal("HTTP/1.1 http 127.0.0.1", await EdgeTestHost.GetAsync(other));
    }

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n", "203.0.113.7")]
    [InlineData("v2", "2001:db8::7")]
    public async Task PROXY_protocol_from_a_trusted_peer_sets_the_client_address(string header, string expected)
    {
        var snapshot = Snapshot(Dynamic(), Static(EntryPoint(proxyProtocol: new TrustedIpsConfig(["127.0.0.1/32"], false))));
        await using var host = await EdgeTestHost.StartAsync(snapshot);
        var bytes = header == "v2"
            ? ProxyProtocol.Write(2, new IPEndPoint(IPAddress.Parse("2001:db8::7"), 5000), new IPEndPoint(IPAddress.Parse("2001:db8::1"), 80))
            : Encoding.ASCII.GetBytes(header);

        await using var client = await ConnectAsync(host.Port);
        await client.WriteAsync(bytes);

        Assert.Equal($"HTTP/1.1 http {expected}", await EdgeTestHost.GetAsync(client));
    }

    [Fact]
    public async Task PROXY_protocol_from_an_untrusted_peer_is_read_and_ignored()
    {
        var snapshot = Snapshot(Dynamic(), Static(EntryPoint(proxyProtocol: new TrustedIpsConfig(["10.0.0.1"], false))));
        await using var host = await EdgeTestHost.StartAsync(snapshot);

        await using var client = await ConnectAsync(host.Port);
        await client.WriteAsync("PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n"u8.ToArray());

        Assert.Equal("HTTP/1.1 http 127.0.0.1", await EdgeTestHost.GetAsync(client));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task PROXY_protocol_to_the_backend_carries_the_client_address(int version)
    {
        await using var backend = TcpBackend.Start(async (stream, socket) =>
        {
            var buffer = new byte[256];
            var total = 0;
            ProxyHeaderStatus status;
            ProxyHeader header;
            do
            {
                total += await stream.ReadAsync(buffer.AsMemory(total));
                status = ProxyProtocol.TryRead(new ReadOnlySequence<byte>(buffer, 0, total), out header, out _);
            } while (status == ProxyHeaderStatus.NeedMore);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{status} {header.Source?.Address}\n"));
        });
        var config = Dynamic(tcpRouters: [TcpRouter("pp", "HostSNI(`*`)", "svc")], tcpServices: [TcpService("svc", version, (backend.Address, false, 1))]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var client = await ConnectAsync(host.Port);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        Assert.Equal("Header 127.0.0.1\n", await EdgeTestHost.ReadToEndAsync(client, timeout.Token));
    }

    [Fact]
    public async Task Weighted_round_robin_spreads_connections_by_server_weight()
    {
        await using var heavy = TcpBackend.Echo("a");
        await using var light = TcpBackend.Echo("b");
        var config = Dynamic(tcpRouters: [TcpRouter("lb", "HostSNI(`*`)", "svc")], tcpServices: [TcpService("svc", null, (heavy.Address, false, 3), (light.Address, false, 1))]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        var names = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            await using var client = await ConnectAsync(host.Port);
            names.Add(await StreamReads.ReadExactlyAsync(client, 2));
        }

        Assert.Equal(6, names.Count(n => n == "a:"));
        Assert.Equal(2, names.Count(n => n == "b:"));
    }

    [Fact]
    public async Task Weighted_service_spreads_connections_over_services()
    {
        await using var one = TcpBackend.Echo("1");
        await using var two = TcpBackend.Echo("2");
        var config = Dynamic(tcpRouters: [TcpRouter("w", "HostSNI(`*`)", "both@file")],
            tcpServices: [TcpService("one", servers: (one.Address, false, 1)), TcpService("two", servers: (two.Address, false, 1)),
                new TcpWeightedConfig("both", "tcp.services.both", [new WeightedService("one", 1), new WeightedService("two@file", 1)])]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        var names = new HashSet<string>();
        for (var i = 0; i < 2; i++)
        {
            await using var client = await ConnectAsync(host.Port);
            names.Add(await StreamReads.ReadExactlyAsync(client, 2));
        }

        Assert.Equal(["1:", "2:"], names.Order());
    }

    [Fact]
    public async Task IpAllowList_closes_connections_from_outside_its_sourceRange()
    {
        await using var backend = TcpBackend.Echo("in");
        var allowList = Middleware("only10", "ipAllowList", ("sourceRange", new[] { "10.0.0.0/8", "192.168.1.1" }));
        var config = Dynamic(tcpRouters: [TcpRouter("r", "HostSNI(`*`)", "svc", null, 0, "only10")], tcpServices: [TcpService("svc", servers: (backend.Address, false, 1))], tcpMiddlewares: [allowList]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var client = await ConnectAsync(host.Port);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        Assert.Equal("", await EdgeTestHost.ReadToEndAsync(client, timeout.Token));
        Assert.Equal(0, backend.Connections);
    }

    [Fact]
    public async Task InFlightConn_closes_a_connection_beyond_the_amount_per_client_and_frees_the_slot()
    {
        await using var backend = TcpBackend.Echo("x");
        var limit = Middleware("one", "inFlightConn", ("amount", 1));
        var config = Dynamic(tcpRouters: [TcpRouter("r", "HostSNI(`*`)", "svc", null, 0, "one")], tcpServices: [TcpService("svc", servers: (backend.Address, false, 1))], tcpMiddlewares: [limit]);
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var first = await ConnectAsync(host.Port);
        Assert.Equal("x:", await StreamReads.ReadExactlyAsync(first, 2));
        await using (var second = await ConnectAsync(host.Port))
            Assert.Equal("", await EdgeTestHost.ReadToEndAsync(second, timeout.Token));

        await first.DisposeAsync();
        await Task.Delay(300);
        await using var third = await ConnectAsync(host.Port);
        Assert.Equal("x:", await StreamReads.ReadExactlyAsync(third, 2));
    }

    [Fact]
    public async Task Plain_bytes_with_no_TCP_router_go_to_HTTP()
    {
        await using var host = await EdgeTestHost.StartAsync(Snapshot(Dynamic(), Static(EntryPoint())));

        await using var client = await ConnectAsync(host.Port);

        Assert.Equal("HTTP/1.1 http 127.0.0.1", await EdgeTestHost.GetAsync(client));
    }

    [Fact]
    public async Task Configuration_errors_name_their_paths()
    {
        List<string> errors = [];
        var config = Dynamic(
            tcpRouters: [TcpRouter("nosvc", "HostSNI(`*`)", "missing"), TcpRouter("plain", "HostSNI(`a.test`)", "svc"),
                TcpRouter("badopts", "HostSNI(`b.test`)", "svc", new RouterTlsConfig("nope", null, [])), TcpRouter("badmw", "HostSNI(`*`)", "svc", null, 0, "ghost", "broken")],
            tcpServices: [TcpService("svc", servers: ("not-an-address", false, 1)), new TcpWeightedConfig("loop", "tcp.services.loop", [new WeightedService("loop", 1)])],
            tcpMiddlewares: [Middleware("broken", "ipAllowList", ("sourceRange", new[] { "300.1.1.1" }), ("extra", "x"))]);

        Snapshot(config, Static(EntryPoint()), errors);

        Assert.Contains("tcp.routers.nosvc.service: unknown TCP service missing", errors);
        Assert.Contains(errors, e => e.StartsWith("tcp.routers.plain.rule: a router without tls can only match HostSNI(`*`)", StringComparison.Ordinal));
        Assert.Contains("tcp.routers.badopts.tls.options: unknown TLS options nope", errors);
        Assert.Contains("tcp.routers.badmw.middlewares[0]: unknown TCP middleware ghost", errors);
        Assert.Contains("tcp.middlewares.broken.ipAllowList.sourceRange[0]: '300.1.1.1' is not an IP address or CIDR range", errors);
        Assert.Contains(errors, e => e.StartsWith("tcp.middlewares.broken.ipAllowList.extra: unknown field 'extra'", StringComparison.Ordinal));
        Assert.Contains("tcp.services.svc.servers[0].address: 'not-an-address' is not host:port", errors);
        Assert.Contains("tcp.services.loop: weighted services refer to each other in a cycle through loop", errors);
    }
}
