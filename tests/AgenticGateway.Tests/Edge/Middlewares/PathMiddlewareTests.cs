using System.Net;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>addPrefix, stripPrefix, stripPrefixRegex, replacePath and replacePathRegex with Traefik's documented examples.</summary>
[Trait("Category", "functional")]
public sealed class PathMiddlewareTests
{
    [Fact]
    public async Task AddPrefixPutsThePrefixInFrontOfThePathAndKeepsTheQuery()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            # Prefixing with /foo
            http:
              middlewares:
                add-foo:
                  addPrefix:
                    prefix: "/foo"
            """));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/bar/baz?x=1")).StatusCode);
        Assert.Equal("/foo/bar/baz", host.Last.Path);
        Assert.Equal("?x=1", host.Last.Query);
    }

    [Fact]
    public void AddPrefixWithoutAPrefixIsAnError()
    {
        var errors = TraefikMiddlewares.Errors("http: {middlewares: {add: {addPrefix: {prefix: ''}}}}");
        Assert.Contains(errors, e => e.Contains("prefix cannot be empty"));
    }

    private const string StripPrefix = """
        # Strip prefix /foobar and /fiibar
        http:
          middlewares:
            test-stripprefix:
              stripPrefix:
                prefixes:
                  - "/foobar"
                  - "/fiibar"
        """;

    [Theory]
    [InlineData("/foobar/api/users", "/api/users", "/foobar")]
    [InlineData("/fiibar/x", "/x", "/fiibar")]
    [InlineData("/foobar", "", "/foobar")]
    [InlineData("/foobarbaz", "/baz", "/foobar")]
    [InlineData("/other/path", "/other/path", null)]
    public async Task StripPrefixRemovesTheFirstMatchingPrefixAndRecordsIt(string path, string upstream, string? prefix)
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(StripPrefix));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(path)).StatusCode);
        Assert.Equal(upstream, host.Last.Path);
        Assert.Equal(prefix, host.Last.StrippedPrefix);
    }

    [Fact]
    public async Task StripPrefixRefusesAStrippedPathThatIsNotClean()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(StripPrefix));
        var response = await host.Client.GetAsync("/foobar//admin");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Bad Request\n", await response.Content.ReadAsStringAsync());
        Assert.Empty(host.Seen);
    }

    [Fact]
    public async Task StripPrefixWithTheDeprecatedForceSlashDropsTheSlashAfterThePrefix()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {s: {stripPrefix: {prefixes: ['/api/'], forceSlash: true}}}}"));
        await host.Client.GetAsync("/api/");
        Assert.Equal("/", host.Last.Path);
    }

    [Fact]
    public async Task TwoStripsRecordBothPrefixes()
    {
        var first = TraefikMiddlewares.Build("http: {middlewares: {a: {stripPrefix: {prefixes: ['/a']}}}}");
        var second = TraefikMiddlewares.Build("http: {middlewares: {b: {stripPrefix: {prefixes: ['/b']}}}}");
        await using var host = await RequestMiddlewareHost.StartAsync(next => first(second(next)));
        await host.Client.GetAsync("/a/b/c");
        Assert.Equal("/c", host.Last.Path);
        Assert.Equal("/a, /b", host.Last.StrippedPrefix);
    }

    [Theory]
    [InlineData("/foo/abc/123/bar", "/bar", "/foo/abc/123/")]
    [InlineData("/foo/abc/x/bar", "/foo/abc/x/bar", null)]
    [InlineData("/x/foo/abc/123/bar", "/x/foo/abc/123/bar", null)]
    public async Task StripPrefixRegexRemovesAMatchThatStartsThePath(string path, string upstream, string? prefix)
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            http:
              middlewares:
                test-stripprefixregex:
                  stripPrefixRegex:
                    regex:
                      - "/foo/[a-z0-9]+/[0-9]+/"
            """));
        await host.Client.GetAsync(path);
        Assert.Equal(upstream, host.Last.Path);
        Assert.Equal(prefix, host.Last.StrippedPrefix);
    }

    [Fact]
    public void StripPrefixRegexReportsAnInvalidExpressionWithItsPath()
    {
        var errors = TraefikMiddlewares.Errors("http: {middlewares: {s: {stripPrefixRegex: {regex: ['/ok', '/(unclosed']}}}}");
        Assert.Contains(errors, e => e.StartsWith("http.middlewares.s.stripPrefixRegex.regex[1]: invalid regular expression '/(unclosed'"));
    }

    [Fact]
    public async Task ReplacePathReplacesThePathAndSendsTheOldOneInXReplacedPath()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            # Replace the path with /foo
            http:
              middlewares:
                test-replacepath:
                  replacePath:
                    path: "/foo"
            """));
        await host.Client.GetAsync("/some/where%20else?q=2");
        Assert.Equal("/foo", host.Last.Path);
        Assert.Equal("?q=2", host.Last.Query);
        Assert.Equal("/some/where%20else", host.Last.Headers["X-Replaced-Path"]);
    }

    [Fact]
    public void ReplacePathWithAMalformedEscapeIsAnError()
    {
        var errors = TraefikMiddlewares.Errors("http: {middlewares: {r: {replacePath: {path: '/a%zz'}}}}");
        Assert.Contains("http.middlewares.r.replacePath.path: invalid URL escape \"%zz\"", errors);
    }

    private const string ReplacePathRegex = """
        # Replace path with regex
        http:
          middlewares:
            test-replacepathregex:
              replacePathRegex:
                regex: "^/foo/(.*)"
                replacement: "/bar/$1"
        """;

    [Fact]
    public async Task ReplacePathRegexRewritesAMatchingPath()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(ReplacePathRegex));
        await host.Client.GetAsync("/foo/a%20b/c");
        Assert.Equal("/bar/a b/c", host.Last.Path);
        Assert.Equal("/foo/a%20b/c", host.Last.Headers["X-Replaced-Path"]);

        await host.Client.GetAsync("/other");
        Assert.Equal("/other", host.Last.Path);
        Assert.False(host.Last.Headers.ContainsKey("X-Replaced-Path"));
    }

    [Fact]
    public async Task ReplacePathRegexUsesGoGroupNumbersAndNames()
    {
        // Go numbers named groups with the others from the left; .NET would number (?P<id>) last.
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {r: {replacePathRegex: {regex: '^/(?P<kind>[a-z]+)/([0-9]+)$', replacement: '/${2}/$kind/$1x$$'}}}}"));
        await host.Client.GetAsync("/users/42");
        Assert.Equal("/42/users/$", host.Last.Path);
    }

    [Fact]
    public async Task ReplacePathRegexRefusesAResultThatIsNotClean()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {r: {replacePathRegex: {regex: '^/foo/(.*)', replacement: '/bar/../$1'}}}}"));
        var response = await host.Client.GetAsync("/foo/x");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(host.Seen);
    }
}
