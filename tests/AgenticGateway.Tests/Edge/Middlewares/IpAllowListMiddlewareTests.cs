using System.Net;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>ipAllowList (and ipWhiteList) with Traefik's documented options: sourceRange, ipStrategy, rejectStatusCode.</summary>
[Trait("Category", "functional")]
public sealed class IpAllowListMiddlewareTests
{
    [Fact]
    public async Task TheDocumentedRangeLetsLoopbackInAndRefusesOthersWithForbidden()
    {
        await using var allowed = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build("""
            # Accepts request from defined IP
            http:
              middlewares:
                test-ipallowlist:
                  ipAllowList:
                    sourceRange:
                      - "127.0.0.1/32"
                      - "192.168.1.7"
            """));
        Assert.Equal(HttpStatusCode.OK, (await allowed.Client.GetAsync("/")).StatusCode);

        await using var refused = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {a: {ipAllowList: {sourceRange: ['10.0.0.0/8']}}}}"));
        var response = await refused.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Forbidden", await response.Content.ReadAsStringAsync());
        Assert.Empty(refused.Seen);
    }

    [Fact]
    public async Task TheConnectionAddressCountsNotXForwardedForWithoutAStrategy()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {a: {ipAllowList: {sourceRange: ['10.0.0.0/8'], rejectStatusCode: 404}}}}"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", "10.1.2.3");
        var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("Not Found", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    // depth 2: the second address from the right of X-Forwarded-For.
    [InlineData("depth: 2", "192.168.0.9, 10.0.0.1, 172.16.0.1", true)]
    [InlineData("depth: 2", "10.0.0.1, 192.168.0.9, 172.16.0.1", false)]
    [InlineData("depth: 5", "10.0.0.1", false)]
    // excludedIPs: the right-most address that is not excluded.
    [InlineData("excludedIPs: ['172.16.0.0/12', '192.168.0.9']", "10.0.0.1, 192.168.0.9, 172.16.0.1", true)]
    [InlineData("excludedIPs: ['172.16.0.0/12']", "10.0.0.1, 192.168.0.9, 172.16.0.1", false)]
    public async Task TheIpStrategyChoosesTheClientAddressFromXForwardedFor(string strategy, string forwardedFor, bool allowed)
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            $"http: {{middlewares: {{a: {{ipAllowList: {{sourceRange: ['10.0.0.0/8'], ipStrategy: {{{strategy}}}}}}}}}}}"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        Assert.Equal(allowed ? HttpStatusCode.OK : HttpStatusCode.Forbidden, (await host.Client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Ipv6SubnetReducesTheAddressBeforeItIsChecked()
    {
        await using var host = await RequestMiddlewareHost.StartAsync(TraefikMiddlewares.Build(
            "http: {middlewares: {a: {ipWhiteList: {sourceRange: ['2001:db8::/64'], ipStrategy: {depth: 1, ipv6Subnet: 64}}}}}"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", "2001:db8::1234:5678");
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public void BadOptionsAreReportedWithTheirPaths()
    {
        var errors = TraefikMiddlewares.Errors(
            "http: {middlewares: {a: {ipAllowList: {sourceRange: ['10.0.0.0/8', '10.0.0.300', '1.2.3.4/33'], rejectStatusCode: 999, ipStrategy: {depth: 1, ipv6Subnet: 129}}}}}");
        Assert.Contains(errors, e => e.StartsWith("http.middlewares.a.ipAllowList.sourceRange[1]:"));
        Assert.Contains(errors, e => e.StartsWith("http.middlewares.a.ipAllowList.sourceRange[2]:"));
        Assert.Contains("http.middlewares.a.ipAllowList.rejectStatusCode: invalid HTTP status code 999", errors);
        Assert.Contains(errors, e => e.StartsWith("http.middlewares.a.ipAllowList.ipStrategy.ipv6Subnet: invalid IPv6 subnet 129"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {ipAllowList: {}}}}"), e => e.Contains("sourceRange: is required"));
        Assert.Contains(TraefikMiddlewares.Errors("http: {middlewares: {a: {ipWhiteList: {sourceRange: ['::1'], rejectStatusCode: 404}}}}"),
            e => e.Contains("unknown field 'rejectStatusCode'"));
    }
}
