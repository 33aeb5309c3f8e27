using System.Net;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>redirectScheme and redirectRegex with Traefik's documented examples: status codes, Location, pass-through.</summary>
[Trait("Category", "functional")]
public sealed class RedirectMiddlewareTests
{
    private const string RedirectScheme = """
        # Redirect to https
        http:
          middlewares:
            test-redirectscheme:
              redirectScheme:
                scheme: https
                permanent: true
        """;

    [Fact]
    public async Task RedirectSchemeSendsAPermanentRedirectToHttpsWithoutThePort()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(RedirectScheme));
        var request = new HttpRequestMessage(HttpMethod.Get, "/a/b?c=d");
        request.Headers.Host = "example.com:8080";
        var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.Equal("https://example.com/a/b?c=d", response.Headers.Location!.OriginalString);
        Assert.Equal("Moved Permanently", await response.Content.ReadAsStringAsync());
        Assert.Empty(host.Seen);

        var post = await host.Client.PostAsync("/form", new StringContent("x"));
        Assert.Equal(HttpStatusCode.PermanentRedirect, post.StatusCode);
    }

    [Fact]
    public async Task RedirectSchemePassesARequestAlreadyOnTheScheme()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(RedirectScheme));
        var request = new HttpRequestMessage(HttpMethod.Get, "/x");
        request.Headers.Host = "example.com";
        request.Headers.Add("X-Forwarded-Proto", "https");
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(request)).StatusCode);
        Assert.Single(host.Seen);
    }

    [Fact]
    public async Task RedirectSchemeWithAPortPutsItInTheUrlAndTemporaryIsFound()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {r: {redirectScheme: {scheme: https, port: '8443'}}}}"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/p");
        request.Headers.Host = "[::1]:8080";
        var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("https://[::1]:8443/p", response.Headers.Location!.OriginalString);

        var put = await host.Client.PutAsync("/p", new StringContent(""));
        Assert.Equal(HttpStatusCode.TemporaryRedirect, put.StatusCode);
    }

    [Fact]
    public void RedirectSchemeNeedsASchemeAndANumericPort()
    {
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {r: {redirectScheme: {permanent: true}}}}"),
            e => e == "http.middlewares.r.redirectScheme.scheme: you must provide a target scheme");
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {r: {redirectScheme: {scheme: https, port: abc}}}}"),
            e => e.StartsWith("http.middlewares.r.redirectScheme.port:"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {r: {redirectScheme: {scheme: https, code: 301}}}}"),
            e => e.StartsWith("http.middlewares.r.redirectScheme.code: unknown field 'code'"));
    }

    [Fact]
    public async Task RedirectRegexReplacesTheDomain()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            # Redirect with domain replacement
            http:
              middlewares:
                test-redirectregex:
                  redirectRegex:
                    regex: "^http://localhost/(.*)"
                    replacement: "http://mydomain/${1}"
            """));
        var request = new HttpRequestMessage(HttpMethod.Get, "/some/page?x=1");
        request.Headers.Host = "localhost";
        var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("http://mydomain/some/page?x=1", response.Headers.Location!.OriginalString);
        Assert.Equal("Found", await response.Content.ReadAsStringAsync());

        var other = new HttpRequestMessage(HttpMethod.Get, "/some/page");
        other.Headers.Host = "example.org";
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(other)).StatusCode);
    }
}
