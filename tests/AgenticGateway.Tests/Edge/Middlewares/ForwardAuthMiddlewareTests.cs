using System.Net;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>forwardAuth against a real authentication server, with Traefik's documented options.</summary>
[Trait("Category", "functional")]
public sealed class ForwardAuthMiddlewareTests
{
    /// <summary>An auth server: "/ok" allows (with X-Auth-User and a cookie), "/deny" refuses with 403, "/login" with a relative redirect.</summary>
    private static Task<RequestMiddlewareHost> StartAuthServerAsync() => RequestMiddlewareHost.StartAsync(next => next, async http =>
    {
        switch (http.Request.Path.Value)
        {
            case "/ok":
                http.Response.Headers["X-Auth-User"] = "alice";
                http.Response.Headers["X-Auth-Role"] = "admin";
                http.Response.Headers.SetCookie = "session=from-auth; Path=/";
                await http.Response.WriteAsync("ok");
                break;
            case "/deny":
                http.Response.StatusCode = 403;
                http.Response.Headers["X-Reason"] = "no entry";
                await http.Response.WriteAsync("denied by auth");
                break;
            case "/login":
                http.Response.StatusCode = 302;
                http.Response.Headers.Location = "/signin?next=1";
                break;
            default:
                http.Response.StatusCode = 401;
                break;
        }
    });

    private static RequestDelegate ServiceWithCookies = async http =>
    {
        http.Response.Headers.Append("Set-Cookie", "session=from-service; Path=/");
        http.Response.Headers.Append("Set-Cookie", "theme=dark; Path=/");
        await http.Response.WriteAsync("backend");
    };

    [Fact]
    public async Task AnAllowedRequestGoesOnWithTheAuthServersHeadersAndCookies()
    {
        await using var auth = await StartAuthServerAsync();
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build($$"""
            http:
              middlewares:
                test-auth:
                  forwardAuth:
                    address: "{{auth.Url}}/ok"
                    trustForwardHeader: true
                    authResponseHeaders:
                      - "X-Auth-User"
                      - "X-Secret"
                    authResponseHeadersRegex: "^X-Auth-R"
                    addAuthCookiesToResponse: ["session"]
                    headerField: "X-Auth-User"
            """), ServiceWithCookies);
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/items?x=1") { Content = new StringContent("payload") };
        request.Headers.Host = "app.example:8080";
        request.Headers.Add("X-Secret", "forged");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        request.Headers.Add("Cookie", "a=b");
        var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var sent = auth.Last;
        Assert.Equal("GET", sent.Method);
        Assert.Equal("", sent.Body);
        Assert.Equal("POST", sent.Headers["X-Forwarded-Method"]);
        Assert.Equal("http", sent.Headers["X-Forwarded-Proto"]);
        Assert.Equal("app.example:8080", sent.Headers["X-Forwarded-Host"]);
        Assert.Equal("8080", sent.Headers["X-Forwarded-Port"]);
        Assert.Equal("/api/items?x=1", sent.Headers["X-Forwarded-Uri"]);
        Assert.Equal("203.0.113.7, 127.0.0.1", sent.Headers["X-Forwarded-For"]);
        Assert.Equal("a=b", sent.Headers["Cookie"]);

        var upstream = host.Last;
        Assert.Equal("payload", upstream.Body);
        Assert.Equal("alice", upstream.Headers["X-Auth-User"]);
        Assert.Equal("admin", upstream.Headers["X-Auth-Role"]);
        Assert.False(upstream.Headers.ContainsKey("X-Secret"));
        Assert.Equal(["session=from-auth; Path=/", "theme=dark; Path=/"], response.Headers.GetValues("Set-Cookie").Order());
    }

    [Fact]
    public async Task WithoutTrustTheClientsForwardedHeadersAreReplacedAndTheFilterApplies()
    {
        await using var auth = await StartAuthServerAsync();
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            $"http: {{middlewares: {{a: {{forwardAuth: {{address: '{auth.Url}/ok', trustForwardHeader: false, authRequestHeaders: ['Authorization']}}}}}}}}"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/p");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        request.Headers.Add("X-Forwarded-Uri", "/forged");
        request.Headers.Add("Authorization", "Bearer t");
        request.Headers.Add("X-Other", "dropped by the filter");
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(request)).StatusCode);
        var sent = auth.Last;
        Assert.Equal("127.0.0.1", sent.Headers["X-Forwarded-For"]);
        Assert.Equal("/p", sent.Headers["X-Forwarded-Uri"]);
        Assert.Equal("Bearer t", sent.Headers["Authorization"]);
        Assert.False(sent.Headers.ContainsKey("X-Other"));
    }

    [Fact]
    public async Task ARefusalGoesBackAsTheAuthServerWroteIt()
    {
        await using var auth = await StartAuthServerAsync();
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build($"http: {{middlewares: {{a: {{forwardAuth: {{address: '{auth.Url}/deny'}}}}}}}}"));
        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("no entry", response.Headers.GetValues("X-Reason").Single());
        Assert.Equal("denied by auth", await response.Content.ReadAsStringAsync());
        Assert.Empty(host.Seen);
    }

    [Fact]
    public async Task ARelativeLocationIsMadeAbsoluteUnlessPreserved()
    {
        await using var auth = await StartAuthServerAsync();
        await using var resolved = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build($"http: {{middlewares: {{a: {{forwardAuth: {{address: '{auth.Url}/login'}}}}}}}}"));
        var response = await resolved.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal($"{auth.Url}/signin?next=1", response.Headers.Location!.OriginalString);

        await using var preserved = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            $"http: {{middlewares: {{a: {{forwardAuth: {{address: '{auth.Url}/login', preserveLocationHeader: true}}}}}}}}"));
        Assert.Equal("/signin?next=1", (await preserved.Client.GetAsync("/")).Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task AnUnauthorizedAnswerRedirectsToTheSigninUrl()
    {
        await using var auth = await StartAuthServerAsync();
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            $"http: {{middlewares: {{a: {{forwardAuth: {{address: '{auth.Url}/who', authSigninURL: 'https://login.example/start'}}}}}}}}"));
        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("https://login.example/start", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task ForwardBodySendsTheBodyAndMaxBodySizeRefusesALargerOne()
    {
        await using var auth = await StartAuthServerAsync();
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            $"http: {{middlewares: {{a: {{forwardAuth: {{address: '{auth.Url}/ok', forwardBody: true, maxBodySize: 10, preserveRequestMethod: true}}}}}}}}"));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.PostAsync("/", new StringContent("small"))).StatusCode);
        Assert.Equal("POST", auth.Last.Method);
        Assert.Equal("small", auth.Last.Body);
        Assert.Equal("small", host.Last.Body);

        var large = await host.Client.PostAsync("/", new StringContent("much too large"));
        Assert.Equal(HttpStatusCode.Unauthorized, large.StatusCode);
        Assert.Single(host.Seen);
    }

    [Fact]
    public async Task AnUnreachableAuthServerIsAnInternalError()
    {
        await using var auth = await StartAuthServerAsync();
        var address = auth.Url;
        await auth.DisposeAsync();
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build($"http: {{middlewares: {{a: {{forwardAuth: {{address: '{address}/ok'}}}}}}}}"));
        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("Internal Server Error\n", await response.Content.ReadAsStringAsync());
        Assert.Empty(host.Seen);
    }

    [Fact]
    public void BadOptionsAreReported()
    {
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {forwardAuth: {}}}}"), e => e == "http.middlewares.a.forwardAuth.address: is required");
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {forwardAuth: {address: 'auth:9000'}}}}"), e => e.Contains("expected an absolute http or https URL"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {forwardAuth: {address: 'http://a/', tls: {cert: /nonexistent.pem, key: /nonexistent.key}}}}}"),
            e => e.StartsWith("http.middlewares.a.forwardAuth.tls: unable to create client TLS configuration"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {forwardAuth: {address: 'http://a/', tls: {verify: true}}}}}"), e => e.Contains("unknown field 'verify'"));
    }
}
