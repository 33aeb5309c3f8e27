using System.Net;
using AgenticGateway.Edge.Rules;

namespace AgenticGateway.Tests.Edge.Config;

/// <summary>Traefik v3's TCP rules: HostSNI, HostSNIRegexp, ClientIP, ALPN (pkg/muxer/tcp in Traefik).</summary>
[Trait("Category", "unit")]
public class TcpRuleTests
{
    private static TcpRule Rule(string text)
    {
        var rule = TcpRule.Parse(text, out var error);
        Assert.True(rule is not null, error);
        return rule!;
    }

    private static TcpRuleInput Tls(string? sni, params string[] alpn) => new(sni, alpn, IPAddress.Loopback, true);

    private static readonly TcpRuleInput Plain = new(null, [], IPAddress.Parse("10.1.2.3"), false);

    [Fact]
    public void HostSNI_star_matches_every_connection_and_is_the_catch_all()
    {
        var rule = Rule("HostSNI(`*`)");
        Assert.True(rule.Matches(Plain));
        Assert.True(rule.Matches(Tls("a.test")));
        Assert.False(rule.NeedsTls);
        Assert.True(rule.IsCatchAll);
        Assert.Empty(rule.ServerNames);
        Assert.False(Rule("HostSNI(`*`) && ClientIP(`10.0.0.0/8`)").IsCatchAll);
    }

    [Fact]
    public void HostSNI_needs_a_server_name_compared_without_regard_to_case()
    {
        var rule = Rule("HostSNI(`DB.example.com.`)");
        Assert.True(rule.Matches(Tls("db.example.com")));
        Assert.True(rule.Matches(Tls("DB.EXAMPLE.COM")));
        Assert.False(rule.Matches(Tls("other.example.com")));
        Assert.False(rule.Matches(Tls(null)));
        Assert.False(rule.Matches(Plain));
        Assert.True(rule.NeedsTls);
        Assert.Equal(["db.example.com"], rule.ServerNames);
        Assert.True(Rule("HostSNI(`*.example.com`)").Matches(Tls("db.example.com")));
        Assert.False(Rule("HostSNI(`*.example.com`)").Matches(Tls("a.db.example.com")));
    }

    [Fact]
    public void HostSNIRegexp_ALPN_and_ClientIP()
    {
        Assert.True(Rule(@"HostSNIRegexp(`^.+\.example\.com$`)").Matches(Tls("Db.example.com")));
        Assert.False(Rule(@"HostSNIRegexp(`^.+\.example\.com$`)").Matches(Tls("example.com")));
        Assert.True(Rule("ALPN(`h2`)").Matches(Tls("a", "http/1.1", "h2")));
        Assert.False(Rule("ALPN(`h2`)").Matches(Tls("a", "http/1.1")));
        Assert.True(Rule("HostSNI(`*`) && ClientIP(`10.0.0.0/8`)").Matches(Plain));
        Assert.False(Rule("HostSNI(`*`) && !ClientIP(`10.0.0.0/8`)").Matches(Plain));
    }

    [Fact]
    public void NeedsTls_says_whether_a_plain_connection_can_ever_match()
    {
        Assert.True(Rule("ALPN(`h2`)").NeedsTls);
        Assert.True(Rule("HostSNIRegexp(`.*`)").NeedsTls);
        Assert.False(Rule("ClientIP(`10.0.0.1`)").NeedsTls);
        Assert.False(Rule("HostSNI(`a.test`) || HostSNI(`*`)").NeedsTls);
        Assert.True(Rule("HostSNI(`a.test`) && ClientIP(`10.0.0.1`)").NeedsTls);
        Assert.True(Rule("!HostSNI(`*`) || HostSNI(`a.test`)").NeedsTls);
        Assert.False(Rule("!HostSNI(`a.test`)").NeedsTls);
    }

    [Theory]
    [InlineData("HostSNI(`a b`)", "column 1: HostSNI: 'a b' is not a valid host name")]
    [InlineData("ALPN(`acme-tls/1`)", "reserved")]
    [InlineData("Host(`a`)", "unknown matcher 'Host' (known: HostSNI, HostSNIRegexp, ClientIP, ALPN)")]
    [InlineData("HostSNI(`a`, `b`)", "expected 1 argument, got 2")]
    [InlineData("HostSNI(`a`) ||", "column 16: expected a matcher")]
    public void Errors_name_the_column(string text, string expected)
    {
        Assert.Null(TcpRule.Parse(text, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Matching_allocates_nothing()
    {
        var rule = Rule(@"(HostSNI(`db.example.com`) || HostSNIRegexp(`^api\.`)) && ALPN(`h2`) && ClientIP(`127.0.0.0/8`)");
        var input = Tls("API.example.com", "h2");
        Assert.True(rule.Matches(input));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) rule.Matches(input);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
