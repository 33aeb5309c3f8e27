using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AgenticGateway.Edge.Middlewares;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>The htpasswd hashes Traefik accepts, checked against hashes made by other tools (openssl, Openwall's vectors).</summary>
[Trait("Category", "unit")]
public sealed class HtpasswdHashesTests
{
    [Theory]
    // Traefik's documentation's users (openssl passwd -apr1 gives the same hashes for test/test2).
    [InlineData("test", "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/")]
    [InlineData("test2", "$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0")]
    [InlineData("apache", "$apr1$J.w5a/..$IW9y6DR0oO/ADuhlMF5/X1")]
    [InlineData("pass", "$1$YeNsbWdH$wvOF8JdqsoiLix754LTW90")]
    [InlineData("secret", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=")]
    [InlineData("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")]
    [InlineData("U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")]
    public void TheRightPasswordMatchesAndAWrongOneDoesNot(string password, string hash)
    {
        Assert.True(HtpasswdHashes.Verify(password, hash));
        Assert.False(HtpasswdHashes.Verify(password + "x", hash));
        Assert.False(HtpasswdHashes.Verify("", hash));
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("$2a$05$broken")]
    [InlineData("{SHA}")]
    public void APlainOrMalformedHashNeverMatches(string hash) => Assert.False(HtpasswdHashes.Verify("plain", hash));
}

/// <summary>basicAuth with Traefik's documented options: users, usersFile, realm, headerField, removeHeader.</summary>
[Trait("Category", "functional")]
public sealed class BasicAuthMiddlewareTests
{
    private const string Documented = """
        # Declaring the user list
        http:
          middlewares:
            test-auth:
              basicAuth:
                users:
                  - "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
                  - "test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0"
        """;

    private static HttpRequestMessage Get(string? user, string? password, string scheme = "Basic")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        if (user is not null) request.Headers.Authorization = new AuthenticationHeaderValue(scheme, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return request;
    }

    [Fact]
    public async Task TheDocumentedUsersGetInAndOthersGetTraefiksChallenge()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(Documented));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(Get("test", "test"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(Get("test2", "test2", "basic"))).StatusCode);
        Assert.Equal("Basic dGVzdDp0ZXN0", host.Seen.First().Headers.Authorization);

        foreach (var request in new[] { Get(null, null), Get("test", "wrong"), Get("nobody", "test"), Get("test", "test", "Bearer") })
        {
            var response = await host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Basic realm=\"traefik\"", response.Headers.WwwAuthenticate.Single().ToString());
            Assert.Equal("text/plain", response.Content.Headers.ContentType!.ToString());
            Assert.Equal("401 Unauthorized\n", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(2, host.Seen.Count);
    }

    [Fact]
    public async Task UsersFileIsMergedAndTheListWinsWithRealmHeaderFieldAndRemoveHeader()
    {
        using var directory = new TempDirectory("agw-basicauth-");
        var file = Path.Combine(directory.Path, "users");
        File.WriteAllText(file, "# htpasswd\n\ntest:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0\nsha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build($$"""
            http:
              middlewares:
                auth:
                  basicAuth:
                    usersFile: "{{file}}"
                    users: ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
                    realm: "MyRealm"
                    headerField: "X-WebAuth-User"
                    removeHeader: true
            """));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(Get("sha", "secret"))).StatusCode);
        Assert.Equal("sha", host.Last.Headers["X-WebAuth-User"]);
        Assert.False(host.Last.Headers.ContainsKey("Authorization"));
        // users overrides the file's test entry (test2's hash), so test's own password is the one that works.
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(Get("test", "test"))).StatusCode);
        var refused = await host.Client.SendAsync(Get("test", "test2"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Basic realm=\"MyRealm\"", refused.Headers.WwwAuthenticate.Single().ToString());
    }

    [Fact]
    public void BadUsersAreReportedWithoutTheirHashes()
    {
        var errors = TraefikMiddlewares.Errors("http: {middlewares: {a: {basicAuth: {users: ['test:$apr1$x:y', 'nocolon']}}}}");
        Assert.Equal(2, errors.Count(e => e.Contains("expected name:hashed-password")));
        Assert.DoesNotContain(errors, e => e.Contains("$apr1$x"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {basicAuth: {}}}}"), e => e.Contains("no users"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {basicAuth: {usersFile: /nonexistent/users}}}}"),
            e => e.StartsWith("http.middlewares.a.basicAuth.usersFile: cannot read /nonexistent/users"));
    }
}
