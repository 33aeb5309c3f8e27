using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Edge.Runtime;

/// <summary>
/// The edge's HTTP routing end to end: an entry point of its own, routers by rule and priority, load balancing with
/// weights, sticky cookies and health checks, the forwarded headers, weighted / failover / mirroring services, the
/// gateway's own services behind routers, WebSocket and server-sent events through the proxy.
/// </summary>
[Trait("Category", "functional")]
public sealed class EdgeRoutingTests
{
    private static async Task<(GatewayServer Gateway, HttpClient Web, int Port)> StartAsync(string dynamic, string extraStatic = "")
    {
        var port = LocalServers.FreePort();
        var yaml = $"""
            models:
              - name: gpt-4o
                provider: mock
            entryPoints:
              web:
                address: "127.0.0.1:{port}"
            {extraStatic}
            {dynamic}
            """;
        var gateway = await GatewayServer.StartAsync(yaml);
        var web = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        return (gateway, web, port);
    }

    private static async Task<Dictionary<string, string>> GetAsync(HttpClient client, string path, string host, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = host;
        configure?.Invoke(request);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}");
        return TestBackend.Parse(body);
    }

    [Fact]
    public async Task Routers_match_by_rule_and_priority_and_unmatched_requests_get_traefiks_404()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        var (gateway, web, _) = await StartAsync($"""
            http:
              routers:
                by-host:
                  rule: "Host(`app.test`)"
                  service: a
                api-first:
                  rule: "Host(`app.test`) && PathPrefix(`/api`)"
                  service: b
                low:
                  rule: "PathPrefix(`/api`)"
                  priority: 1
                  service: a
              services:
                a:
                  loadBalancer:
                    servers:
                      - url: "{a.Url}"
                b:
                  loadBalancer:
                    servers:
                      - url: "{b.Url}"
            """);
        await using var _ = gateway;
        Assert.Equal("a", (await GetAsync(web, "/x", "app.test"))["backend"]);
        // The longer rule wins (Traefik's default priority is the rule's length).
        Assert.Equal("b", (await GetAsync(web, "/api/v1", "app.test"))["backend"]);
        Assert.Equal("a", (await GetAsync(web, "/api/v1", "other.test"))["backend"]);

        using var unmatched = new HttpRequestMessage(HttpMethod.Get, "/nothing");
        unmatched.Headers.Host = "other.test";
        using var response = await web.SendAsync(unmatched);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("404 page not found\n", await response.Content.ReadAsStringAsync());

        // The gateway's own listener keeps today's paths (its default router), untouched by the entry point's routers.
        using var live = await gateway.Client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task The_load_balancer_follows_weights_and_passes_the_host_and_forwarded_headers()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var c = await TestBackend.StartAsync("c");
        var (gateway, web, port) = await StartAsync($"""
            http:
              routers:
                weighted:
                  rule: "Host(`w.test`)"
                  service: split
                nohost:
                  rule: "Host(`n.test`)"
                  service: nohost
              services:
                split:
                  loadBalancer:
                    servers:
                      - url: "{a.Url}"
                        weight: 3
                      - url: "{b.Url}"
                        weight: 1
                nohost:
                  loadBalancer:
                    passHostHeader: false
                    servers:
                      - url: "{c.Url}"
            """);
        await using var _ = gateway;
        var seen = new List<string>();
        for (var i = 0; i < 40; i++) seen.Add((await GetAsync(web, "/", "w.test"))["backend"]);
        Assert.Equal(30, seen.Count(s => s == "a"));
        Assert.Equal(10, seen.Count(s => s == "b"));

        var echo = await GetAsync(web, "/p?q=1", "w.test", r => r.Headers.TryAddWithoutValidation("X-Forwarded-For", "6.6.6.6"));
        Assert.Equal("w.test", echo["host"]);
        Assert.Equal("/p", echo["path"]);
        Assert.Equal("?q=1", echo["query"]);
        // The client is not trusted: its X-Forwarded-For is dropped, and the edge's own says who connected.
        Assert.Equal("127.0.0.1", echo["x-forwarded-for"]);
        Assert.Equal("127.0.0.1", echo["x-real-ip"]);
        Assert.Equal("http", echo["x-forwarded-proto"]);
        Assert.Equal("w.test", echo["x-forwarded-host"]);
        Assert.Equal(port.ToString(), echo["x-forwarded-port"]);

        var plain = await GetAsync(web, "/", "n.test");
        Assert.Equal($"127.0.0.1:{c.Port}", plain["host"]);
    }

    [Fact]
    public async Task Trusted_peers_keep_their_forwarded_headers()
    {
        await using var a = await TestBackend.StartAsync("a");
        var port = LocalServers.FreePort();
        await using var gateway = await GatewayServer.StartAsync($"""
            entryPoints:
              web:
                address: "127.0.0.1:{port}"
                forwardedHeaders:
                  trustedIPs:
                    - "127.0.0.1/32"
            http:
              routers:
                r:
                  rule: "PathPrefix(`/`)"
                  service: a
              services:
                a:
                  loadBalancer:
                    servers:
                      - url: "{a.Url}"
            """);
        using var web = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var echo = await GetAsync(web, "/", "t.test", r =>
        {
            r.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
            r.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        });
        Assert.Equal("203.0.113.9, 127.0.0.1", echo["x-forwarded-for"]);
        Assert.Equal("https", echo["x-forwarded-proto"]);
    }

    [Fact]
    public async Task Sticky_cookies_keep_a_client_on_its_server()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        var (gateway, web, _) = await StartAsync($"""
            http:
              routers:
                r:
                  rule: "Host(`s.test`)"
                  service: sticky
              services:
                sticky:
                  loadBalancer:
                    sticky:
                      cookie:
                        name: lb
                        httpOnly: true
                        sameSite: strict
                    servers:
                      - url: "{a.Url}"
                      - url: "{b.Url}"
            """);
        await using var _ = gateway;
        using var first = new HttpRequestMessage(HttpMethod.Get, "/");
        first.Headers.Host = "s.test";
        using var response = await web.SendAsync(first);
        var setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("lb=", setCookie);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        var pinned = response.Headers.GetValues("X-Backend").Single();
        var cookie = setCookie.Split(';')[0];
        for (var i = 0; i < 6; i++)
        {
            var echo = await GetAsync(web, "/", "s.test", r => r.Headers.TryAddWithoutValidation("Cookie", cookie));
            Assert.Equal(pinned, echo["backend"]);
        }
    }

    [Fact]
    public async Task Health_checks_take_a_failing_server_out_and_bring_it_back()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        var (gateway, web, _) = await StartAsync($"""
            http:
              routers:
                r:
                  rule: "Host(`h.test`)"
                  service: checked
              services:
                checked:
                  loadBalancer:
                    healthCheck:
                      path: /health
                      interval: 100ms
                      timeout: 5s
                    servers:
                      - url: "{a.Url}"
                      - url: "{b.Url}"
            """);
        await using var _ = gateway;
        // Each server's checks answer in time on a busy machine too (5 s), so only the status decides.
        b.HealthStatus = 503;
        await WaitUntilAsync(async () => (await BackendsAsync(web, "h.test", 4)).SetEquals(["a"]));
        a.HealthStatus = 500;
        b.HealthStatus = 200;
        await WaitUntilAsync(async () => (await BackendsAsync(web, "h.test", 4)).SetEquals(["b"]));
        b.HealthStatus = 500;
        await WaitUntilAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Host = "h.test";
            using var response = await web.SendAsync(request);
            return response.StatusCode == HttpStatusCode.ServiceUnavailable && await response.Content.ReadAsStringAsync() == "no available server";
        });
    }

    [Fact]
    public async Task Weighted_failover_and_mirroring_services_compose()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var m = await TestBackend.StartAsync("mirror");
        var (gateway, web, _) = await StartAsync($"""
            http:
              routers:
                weighted:
                  rule: "Host(`weighted.test`)"
                  service: canary
                failover:
                  rule: "Host(`failover.test`)"
                  service: fo
                mirrored:
                  rule: "Host(`mirror.test`)"
                  service: mirrored
              services:
                canary:
                  weighted:
                    services:
                      - name: svc-a
                        weight: 1
                      - name: svc-b
                        weight: 1
                fo:
                  failover:
                    service: checked-a
                    fallback: svc-b
                mirrored:
                  mirroring:
                    service: svc-a
                    mirrors:
                      - name: svc-mirror
                        percent: 100
                svc-a:
                  loadBalancer:
                    servers:
                      - url: "{a.Url}"
                checked-a:
                  loadBalancer:
                    healthCheck:
                      path: /health
                      interval: 100ms
                    servers:
                      - url: "{a.Url}"
                svc-b:
                  loadBalancer:
                    servers:
                      - url: "{b.Url}"
                svc-mirror:
                  loadBalancer:
                    servers:
                      - url: "{m.Url}"
            """);
        await using var _ = gateway;
        var seen = new List<string>();
        for (var i = 0; i < 10; i++) seen.Add((await GetAsync(web, "/", "weighted.test"))["backend"]);
        Assert.Equal(5, seen.Count(s => s == "a"));

        Assert.Equal("a", (await GetAsync(web, "/", "failover.test"))["backend"]);
        a.HealthStatus = 500;
        await WaitUntilAsync(async () => (await BackendsAsync(web, "failover.test", 1)).SetEquals(["b"]));
        a.HealthStatus = 200;

        var before = m.Requests;
        Assert.Equal("a", (await GetAsync(web, "/copied", "mirror.test"))["backend"]);
        await WaitUntilAsync(() => Task.FromResult(m.Requests == before + 1));
    }

    [Fact]
    public async Task The_gateways_own_services_sit_behind_routers_and_reach_only_their_routes()
    {
        var (gateway, web, _) = await StartAsync("""
            master_key: sk-edge-master
            http:
              routers:
                llm:
                  rule: "Host(`llm.test`)"
                  service: llm@internal
                ping:
                  rule: "Path(`/ping`)"
                  service: ping@internal
            """);
        await using var _ = gateway;
        using var chat = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("gpt-4o"), Encoding.UTF8, "application/json") };
        chat.Headers.Host = "llm.test";
        chat.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-edge-master");
        using var answered = await web.SendAsync(chat);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Contains("chat.completion", await answered.Content.ReadAsStringAsync());

        // The same host cannot reach the admin API through llm@internal.
        using var admin = new HttpRequestMessage(HttpMethod.Get, "/key/list");
        admin.Headers.Host = "llm.test";
        admin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-edge-master");
        using var refused = await web.SendAsync(admin);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Equal("404 page not found\n", await refused.Content.ReadAsStringAsync());

        using var ping = await web.GetAsync("/ping");
        Assert.Equal("OK", await ping.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WebSocket_and_server_sent_events_pass_through_unbuffered()
    {
        await using var a = await TestBackend.StartAsync("a");
        var (gateway, web, port) = await StartAsync($"""
            http:
              routers:
                r:
                  rule: "PathPrefix(`/`)"
                  service: a
              services:
                a:
                  loadBalancer:
                    servers:
                      - url: "{a.Url}"
            """);
        await using var _ = gateway;
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), CancellationToken.None);
        await ws.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[256];
        var received = await ws.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("a: hello", Encoding.UTF8.GetString(buffer, 0, received.Count));
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        // The first event arrives while the server is still writing the rest (it waits 400 ms between events).
        using var response = await web.GetAsync("/sse", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var first = await reader.ReadLineAsync();
        var firstAt = watch.Elapsed;
        Assert.StartsWith("data: 0", first);
        var rest = await reader.ReadToEndAsync();
        Assert.Contains("data: 2", rest);
        Assert.True(watch.Elapsed - firstAt > TimeSpan.FromMilliseconds(600), $"the first event came {firstAt} in, the rest {watch.Elapsed - firstAt} later: the stream was buffered");
    }

    [Fact]
    public async Task A_router_with_a_missing_service_is_disabled_and_the_others_serve()
    {
        await using var a = await TestBackend.StartAsync("a");
        var (gateway, web, _) = await StartAsync($"""
            http:
              routers:
                broken:
                  rule: "Host(`broken.test`)"
                  service: nowhere
                fine:
                  rule: "Host(`fine.test`)"
                  service: a
              services:
                a:
                  loadBalancer:
                    servers:
                      - url: "{a.Url}"
            """);
        await using var _ = gateway;
        Assert.Equal("a", (await GetAsync(web, "/", "fine.test"))["backend"]);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Host = "broken.test";
        using var response = await web.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var holder = gateway.Services.GetRequiredService<AgenticGateway.Edge.Runtime.EdgeHolder>();
        var broken = holder.Current.Routers.Single(r => r.Name == "broken@file");
        Assert.Equal("disabled", broken.Status);
        Assert.Contains("the service \"nowhere@file\" does not exist", broken.Errors);
    }

    [Fact]
    public async Task Credentials_in_a_server_url_stay_out_of_metrics_and_the_api()
    {
        await using var a = await TestBackend.StartAsync("a");
        var url = a.Url.Replace("http://", "http://user:s3cretpw@");
        var (gateway, web, _) = await StartAsync($"""
            master_key: sk-edge-master
            http:
              routers:
                r:
                  rule: "PathPrefix(`/`)"
                  service: s
              services:
                s:
                  loadBalancer:
                    servers:
                      - url: "{url}"
            """);
        await using var _ = gateway;
        Assert.Equal("a", (await GetAsync(web, "/", "c.test"))["backend"]);
        var metrics = await gateway.Client.GetStringAsync("/metrics");
        Assert.Contains("traefik_service_server_up", metrics);
        Assert.DoesNotContain("s3cretpw", metrics);
        using var api = new HttpRequestMessage(HttpMethod.Get, "/api/http/services");
        api.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-edge-master");
        using var listed = await gateway.Client.SendAsync(api);
        var body = await listed.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Contains(a.Url, body);
        Assert.DoesNotContain("s3cretpw", body);
    }

    [Fact]
    public async Task A_server_that_refuses_connections_answers_bad_gateway()
    {
        var closed = LocalServers.FreePort();
        var (gateway, web, _) = await StartAsync($"""
            http:
              routers:
                r:
                  rule: "PathPrefix(`/`)"
                  service: down
              services:
                down:
                  loadBalancer:
                    servers:
                      - url: "http://127.0.0.1:{closed}"
            """);
        await using var _ = gateway;
        using var response = await web.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("Bad Gateway", await response.Content.ReadAsStringAsync());
    }

    /// <summary>Which backends answered <paramref name="count"/> requests ("503" for an answer without a server).</summary>
    private static async Task<HashSet<string>> BackendsAsync(HttpClient client, string host, int count)
    {
        var seen = new HashSet<string>();
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Host = host;
            using var response = await client.SendAsync(request);
            seen.Add(response.IsSuccessStatusCode ? TestBackend.Parse(await response.Content.ReadAsStringAsync())["backend"] : ((int)response.StatusCode).ToString());
        }
        return seen;
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds = 10)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, "the condition did not hold in time");
            await Task.Delay(50);
        }
    }
}
