using System.Net;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>The headers middleware with Traefik's documented examples: custom headers, security headers, CORS.</summary>
[Trait("Category", "functional")]
public sealed class HeadersMiddlewareTests
{
    private static RequestDelegate ServiceWithHeaders(params (string Name, string Value)[] headers) => async http =>
    {
        foreach (var (name, value) in headers) http.Response.Headers[name] = value;
        await http.Response.WriteAsync("backend");
    };

    [Fact]
    public async Task CustomHeadersAreAddedToTheRequestAndTheResponse()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            http:
              middlewares:
                testHeader:
                  headers:
                    customRequestHeaders:
                      X-Script-Name: "test"
                    customResponseHeaders:
                      X-Custom-Response-Header: "value"
            """), ServiceWithHeaders(("X-Custom-Response-Header", "from-service")));
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Script-Name", "client");
        var response = await host.Client.SendAsync(request);
        Assert.Equal("test", host.Last.Headers["X-Script-Name"]);
        Assert.Equal("value", Assert.Single(response.Headers.GetValues("X-Custom-Response-Header")));
    }

    [Fact]
    public async Task AnEmptyValueRemovesTheHeader()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            http:
              middlewares:
                testHeader:
                  headers:
                    customRequestHeaders:
                      X-Script-Name: "test" # Adds
                      X-Custom-Request-Header: "" # Removes
                    customResponseHeaders:
                      X-Custom-Response-Header: "" # Removes
            """), ServiceWithHeaders(("X-Custom-Response-Header", "secret"), ("X-Other", "kept")));
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Custom-Request-Header", "drop me");
        var response = await host.Client.SendAsync(request);
        Assert.False(host.Last.Headers.ContainsKey("X-Custom-Request-Header"));
        Assert.Equal("test", host.Last.Headers["X-Script-Name"]);
        Assert.False(response.Headers.Contains("X-Custom-Response-Header"));
        Assert.True(response.Headers.Contains("X-Other"));
    }

    [Fact]
    public async Task RemovingXForwardedForTellsTheLoadBalancerToSendNone()
    {
        var omitted = false;
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {h: {headers: {customRequestHeaders: {X-Forwarded-For: '', Host: 'internal.example'}}}}}"), async http =>
            {
                omitted = AgenticGateway.Edge.EdgeRequestExtensions.Edge(http)!.OmitForwardedFor;
                await http.Response.WriteAsync(http.Request.Host.Value!);
            });
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", "1.2.3.4");
        var response = await host.Client.SendAsync(request);
        Assert.True(omitted);
        Assert.False(host.Last.Headers.ContainsKey("X-Forwarded-For"));
        Assert.Equal("internal.example", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SecurityHeadersAreSetOnTheResponse()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            http:
              middlewares:
                testHeader:
                  headers:
                    frameDeny: true
                    browserXssFilter: true
            """), ServiceWithHeaders(("X-Frame-Options", "ALLOWALL")));
        var response = await host.Client.GetAsync("/");
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("1; mode=block", Assert.Single(response.Headers.GetValues("X-XSS-Protection")));
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task StsIsSentOverHttpsOrAProxyHeaderOrWhenForcedAndCustomValuesWin()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            http:
              middlewares:
                sec:
                  headers:
                    stsSeconds: 31536000
                    stsIncludeSubdomains: true
                    stsPreload: true
                    sslProxyHeaders:
                      X-Forwarded-Proto: https
                    customFrameOptionsValue: "SAMEORIGIN"
                    frameDeny: true
                    contentTypeNosniff: true
                    contentSecurityPolicy: "default-src 'self'"
                    referrerPolicy: "no-referrer"
                    permissionsPolicy: "camera=()"
                    customBrowserXSSValue: "0"
            """));
        var plain = await host.Client.GetAsync("/");
        Assert.False(plain.Headers.Contains("Strict-Transport-Security"));
        Assert.Equal("SAMEORIGIN", plain.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", plain.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("default-src 'self'", plain.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("no-referrer", plain.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("camera=()", plain.Headers.GetValues("Permissions-Policy").Single());
        Assert.Equal("0", plain.Headers.GetValues("X-XSS-Protection").Single());

        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-Proto", "https");
        var proxied = await host.Client.SendAsync(request);
        Assert.Equal("max-age=31536000; includeSubDomains; preload", proxied.Headers.GetValues("Strict-Transport-Security").Single());

        await using var forced = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {h: {headers: {stsSeconds: 60, forceSTSHeader: true}}}}"));
        Assert.Equal("max-age=60", (await forced.Client.GetAsync("/")).Headers.GetValues("Strict-Transport-Security").Single());
        await using var development = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {h: {headers: {stsSeconds: 60, forceSTSHeader: true, isDevelopment: true}}}}"));
        Assert.False((await development.Client.GetAsync("/")).Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task AllowedHostsRefusesOtherHostsAsTraefikDoes()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {h: {headers: {allowedHosts: ['good.example'], hostsProxyHeaders: ['X-Forwarded-Host']}}}}"));
        var good = new HttpRequestMessage(HttpMethod.Get, "/");
        good.Headers.Host = "GOOD.example";
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(good)).StatusCode);

        var proxied = new HttpRequestMessage(HttpMethod.Get, "/");
        proxied.Headers.Host = "good.example";
        proxied.Headers.Add("X-Forwarded-Host", "evil.example");
        var refused = await host.Client.SendAsync(proxied);
        Assert.Equal(HttpStatusCode.InternalServerError, refused.StatusCode);
        Assert.Equal("Bad Host\n", await refused.Content.ReadAsStringAsync());
        Assert.Single(host.Seen);
    }

    private const string Cors = """
        http:
          middlewares:
            testHeader:
              headers:
                accessControlAllowMethods:
                  - GET
                  - OPTIONS
                  - PUT
                accessControlAllowHeaders:
                  - "*"
                accessControlAllowOriginList:
                  - https://foo.bar.org
                  - https://example.org
                accessControlMaxAge: 100
                addVaryHeader: true
        """;

    [Fact]
    public async Task APreflightIsAnsweredAtTheEdge()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(Cors));
        var request = new HttpRequestMessage(HttpMethod.Options, "/api");
        request.Headers.Add("Origin", "https://example.org");
        request.Headers.Add("Access-Control-Request-Method", "PUT");
        var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("https://example.org", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("GET,OPTIONS,PUT", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Headers").Single());
        Assert.Equal("100", response.Headers.GetValues("Access-Control-Max-Age").Single());
        Assert.Equal(0, response.Content.Headers.ContentLength);
        Assert.Empty(host.Seen);
    }

    [Fact]
    public async Task AnOrdinaryResponseGetsTheAllowedOriginAndVary()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(Cors), ServiceWithHeaders(("Vary", "Accept-Encoding")));
        var request = new HttpRequestMessage(HttpMethod.Get, "/api");
        request.Headers.Add("Origin", "https://foo.bar.org");
        var response = await host.Client.SendAsync(request);
        Assert.Equal("https://foo.bar.org", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("Accept-Encoding,Origin", string.Join(",", response.Headers.Vary));

        var other = new HttpRequestMessage(HttpMethod.Get, "/api");
        other.Headers.Add("Origin", "https://evil.example");
        Assert.False((await host.Client.SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task WithCredentialsTheWildcardsEchoTheRequest()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            http:
              middlewares:
                cors:
                  headers:
                    accessControlAllowCredentials: true
                    accessControlAllowMethods: ["*"]
                    accessControlAllowHeaders: ["*"]
                    accessControlAllowOriginListRegex: ["^https://([a-z]+)\\.example\\.com$"]
                    accessControlExposeHeaders: ["X-Total"]
            """));
        var request = new HttpRequestMessage(HttpMethod.Options, "/");
        request.Headers.Add("Origin", "https://app.example.com");
        request.Headers.Add("Access-Control-Request-Method", "DELETE");
        request.Headers.Add("Access-Control-Request-Headers", "X-Token");
        var response = await host.Client.SendAsync(request);
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.Equal("DELETE", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Equal("X-Token", response.Headers.GetValues("Access-Control-Allow-Headers").Single());
        Assert.Equal("https://app.example.com", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("X-Total", response.Headers.GetValues("Access-Control-Expose-Headers").Single());
    }

    [Fact]
    public void AnEmptyOrUnknownConfigurationIsAnError()
    {
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {h: {headers: {}}}}"), e => e.Contains("headers configuration not valid"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {h: {headers: {frameDenny: true}}}}"), e => e.Contains("unknown field 'frameDenny'"));
        // Traefik v3 parses the removed SSL options and ignores them; so does the edge (with a warning in the log).
        Assert.Empty(TraefikMiddlewares.Errors("http: {middlewares: {h: {headers: {sslRedirect: true, frameDeny: true}}}}"));
    }
}
