using System.Net;
using AgenticGateway.Edge.Rules;

namespace AgenticGateway.Tests.Edge.Config;

/// <summary>Traefik v3's HTTP rule syntax and each matcher's behaviour (pkg/muxer/http in Traefik).</summary>
[Trait("Category", "unit")]
public class HttpRuleTests
{
    internal readonly struct Request(string host = "example.com", string path = "/", string method = "GET", string? client = null,
        (string, string)[]? headers = null, (string, string)[]? query = null) : IHttpRuleInput
    {
        private readonly (string Name, string Value)[] _headers = headers ?? [];
        private readonly (string Name, string Value)[] _query = query ?? [];
        public string Host => host;
        public string Path => path;
        public string Method => method;
        public IPAddress? ClientIp => client is null ? null : IPAddress.Parse(client);
        public int HeaderCount(string name) => _headers.Count(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));
        public string HeaderAt(string name, int index) => _headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).ElementAt(index).Value;
        public int QueryCount(string name) => _query.Count(q => q.Name == name);
        public string QueryAt(string name, int index) => _query.Where(q => q.Name == name).ElementAt(index).Value;
    }

    private static HttpRule Rule(string text)
    {
        var rule = HttpRule.Parse(text, out var error);
        Assert.True(rule is not null, error);
        Assert.Null(error);
        return rule!;
    }

    private static string Error(string text)
    {
        Assert.Null(HttpRule.Parse(text, out var error));
        Assert.NotNull(error);
        return error!;
    }

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("EXAMPLE.com", true)]
    [InlineData("example.com.", true)]
    [InlineData("www.example.com", false)]
    [InlineData("example.org", false)]
    [InlineData("", false)]
    public void Host_compares_without_regard_to_case_and_ignores_a_trailing_dot(string host, bool expected) =>
        Assert.Equal(expected, Rule("Host(`Example.com`)").Matches(new Request(host)));

    [Theory]
    [InlineData("a.example.com", true)]
    [InlineData("B.Example.COM", true)]
    [InlineData("a.b.example.com", false)]
    [InlineData("example.com", false)]
    public void Host_with_a_wildcard_matches_one_label(string host, bool expected) =>
        Assert.Equal(expected, Rule("Host(`*.example.com`)").Matches(new Request(host)));

    [Fact]
    public void Host_star_matches_every_host_even_none()
    {
        Assert.True(Rule("Host(`*`)").Matches(new Request("")));
        Assert.True(Rule("Host(`*`)").Matches(new Request("anything.test")));
    }

    [Fact]
    public void HostRegexp_runs_unanchored_on_the_lower_cased_host_with_go_syntax()
    {
        var rule = Rule(@"HostRegexp(`^(?P<sub>[a-z]+)\.example\.com$`)");
        Assert.True(rule.Matches(new Request("API.example.com")));
        Assert.False(rule.Matches(new Request("api.example.org")));
        Assert.True(Rule("HostRegexp(`example`)").Matches(new Request("www.example.net")));
        Assert.True(Rule(@"HostRegexp(`^[[:alpha:]]+\.test$`)").Matches(new Request("abc.test")));
        Assert.False(Rule(@"HostRegexp(`^\d+$`)").Matches(new Request("٣٤")));
    }

    [Fact]
    public void Path_is_exact_and_case_sensitive()
    {
        var rule = Rule("Path(`/products`)");
        Assert.True(rule.Matches(new Request(path: "/products")));
        Assert.False(rule.Matches(new Request(path: "/products/")));
        Assert.False(rule.Matches(new Request(path: "/Products")));
    }

    [Fact]
    public void PathPrefix_and_PathRegexp()
    {
        Assert.True(Rule("PathPrefix(`/products`)").Matches(new Request(path: "/products/shoes")));
        Assert.True(Rule("PathPrefix(`/products`)").Matches(new Request(path: "/productsandmore")));
        Assert.False(Rule("PathPrefix(`/products`)").Matches(new Request(path: "/product")));
        Assert.True(Rule(@"PathRegexp(`\.(jpeg|jpg|png)$`)").Matches(new Request(path: "/images/cat.png")));
        Assert.False(Rule(@"PathRegexp(`\.(jpeg|jpg|png)$`)").Matches(new Request(path: "/images/cat.gif")));
        Assert.True(Rule("PathRegexp(`^/products/(shoes|socks)/[0-9]+$`)").Matches(new Request(path: "/products/socks/12")));
    }

    [Fact]
    public void Method_is_upper_cased_in_the_rule_and_compared_exactly()
    {
        Assert.True(Rule("Method(`post`)").Matches(new Request(method: "POST")));
        Assert.False(Rule("Method(`POST`)").Matches(new Request(method: "GET")));
    }

    [Fact]
    public void Header_and_HeaderRegexp_look_at_every_value()
    {
        var headers = new[] { ("Content-Type", "text/plain"), ("Content-Type", "application/yaml") };
        Assert.True(Rule("Header(`Content-Type`, `application/yaml`)").Matches(new Request(headers: headers)));
        Assert.False(Rule("Header(`Content-Type`, `application/json`)").Matches(new Request(headers: headers)));
        Assert.True(Rule("HeaderRegexp(`Content-Type`, `^application/(json|yaml)$`)").Matches(new Request(headers: headers)));
        Assert.False(Rule("HeaderRegexp(`Accept`, `.*`)").Matches(new Request(headers: headers)));
    }

    [Fact]
    public void Query_with_a_value_and_with_a_key_only()
    {
        Assert.True(Rule("Query(`mobile`, `true`)").Matches(new Request(query: [("mobile", "true")])));
        Assert.False(Rule("Query(`mobile`, `true`)").Matches(new Request(query: [("mobile", "false")])));
        // Traefik: a key alone matches the parameter present with an empty value (?mobile or ?mobile=).
        Assert.True(Rule("Query(`mobile`)").Matches(new Request(query: [("mobile", "")])));
        Assert.False(Rule("Query(`mobile`)").Matches(new Request(query: [("mobile", "true")])));
        Assert.False(Rule("Query(`mobile`)").Matches(new Request("example.com")));
        Assert.True(Rule("QueryRegexp(`mobile`, `^(true|yes)$`)").Matches(new Request(query: [("mobile", "no"), ("mobile", "yes")])));
        Assert.False(Rule("QueryRegexp(`mobile`, `^(true|yes)$`)").Matches(new Request(query: [("mobile", "no")])));
    }

    [Fact]
    public void ClientIP_takes_an_address_or_a_range_in_either_family()
    {
        Assert.True(Rule("ClientIP(`10.76.105.11`)").Matches(new Request(client: "10.76.105.11")));
        Assert.True(Rule("ClientIP(`192.168.0.0/16`)").Matches(new Request(client: "192.168.4.5")));
        Assert.True(Rule("ClientIP(`192.168.0.0/16`)").Matches(new Request(client: "::ffff:192.168.4.5")));
        Assert.False(Rule("ClientIP(`192.168.0.0/16`)").Matches(new Request(client: "10.0.0.1")));
        Assert.True(Rule("ClientIP(`::1`)").Matches(new Request(client: "::1")));
        Assert.True(Rule("ClientIP(`2001:db8::/32`)").Matches(new Request(client: "2001:db8:1::5")));
        Assert.False(Rule("ClientIP(`::/0`)").Matches(new Request(client: "10.0.0.1")));
        Assert.False(Rule("ClientIP(`10.0.0.0/8`)").Matches(new Request(client: null)));
    }

    [Fact]
    public void Operators_follow_go_precedence_with_negation_and_parentheses()
    {
        var rule = Rule("Host(`a.test`) || Host(`b.test`) && PathPrefix(`/api`)");
        Assert.True(rule.Matches(new Request("a.test", "/other")));
        Assert.False(rule.Matches(new Request("b.test", "/other")));
        Assert.True(rule.Matches(new Request("b.test", "/api/x")));

        var grouped = Rule("(Host(`a.test`) || Host(`b.test`)) && PathPrefix(`/api`)");
        Assert.False(grouped.Matches(new Request("a.test", "/other")));

        var negated = Rule("Host(`a.test`) && !(PathPrefix(`/admin`) || Method(`DELETE`))");
        Assert.True(negated.Matches(new Request("a.test", "/x")));
        Assert.False(negated.Matches(new Request("a.test", "/admin/x")));
        Assert.False(negated.Matches(new Request("a.test", "/x", "DELETE")));
        Assert.True(Rule("!!Host(`a.test`)").Matches(new Request("a.test")));
    }

    [Fact]
    public void Strings_are_raw_in_backticks_and_interpreted_in_double_quotes()
    {
        Assert.True(Rule("Host(\"example.com\")").Matches(new Request("example.com")));
        Assert.True(Rule(@"PathRegexp(""^/a\\.b$"")").Matches(new Request(path: "/a.b")));
        Assert.False(Rule(@"PathRegexp(""^/a\\.b$"")").Matches(new Request(path: "/axb")));
        Assert.True(Rule("Header(\"X-Tab\", \"a\\tb\")").Matches(new Request(headers: [("X-Tab", "a\tb")])));
    }

    [Fact]
    public void Matcher_names_take_traefiks_four_spellings()
    {
        Assert.True(Rule("host(`a.test`)").Matches(new Request("a.test")));
        Assert.True(Rule("HOST(`a.test`)").Matches(new Request("a.test")));
        Assert.True(Rule("Pathprefix(`/a`)").Matches(new Request(path: "/a")));
        Assert.Contains("unknown matcher 'pathPrefix'", Error("pathPrefix(`/a`)"));
    }

    [Fact]
    public void Host_names_are_collected_lower_cased_for_certificates()
    {
        var rule = Rule("(Host(`A.test`) || Host(`b.test`) || Host(`*`)) && Path(`/x`) || Host(`a.test`)");
        Assert.Equal(["a.test", "b.test"], rule.HostNames);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Host(`a`", "column 9: expected ',' or ')'")]
    [InlineData("Host(`a`) &&", "column 13: expected a matcher")]
    [InlineData("Host(`a`) & Path(`/`)", "column 11: expected '&&', '||' or the end of the rule")]
    [InlineData("Host(`a)", "column 6: the string is not closed")]
    [InlineData("Hots(`a`)", "column 1: unknown matcher 'Hots' (known: Host, HostRegexp")]
    [InlineData("Host('a')", "column 6: single quotes")]
    [InlineData("Host(`a`, `b`)", "column 1: Host: expected 1 argument, got 2")]
    [InlineData("Path(`/a`) && Header(`X`)", "column 15: Header: expected 2 arguments, got 1")]
    [InlineData("Query()", "column 1: Query: expected 1 or 2 arguments, got 0")]
    [InlineData("Path(`products`)", "does not start with '/'")]
    [InlineData("Host(``)", "an argument is empty")]
    [InlineData("Host(`exämple.com`)", "non-ASCII")]
    [InlineData("PathRegexp(`(`)", "invalid regular expression")]
    [InlineData("PathRegexp(`(?=a)b`)", "lookarounds")]
    [InlineData("PathRegexp(`(a)\\1`)", "backreferences")]
    [InlineData("ClientIP(`10.0.0.0/33`)", "prefix length")]
    [InlineData("ClientIP(`nope`)", "not an IP address")]
    [InlineData("Host(\"a\\q\")", "unknown escape sequence")]
    [InlineData("(Host(`a`)", "column 11: expected ')'")]
    public void Errors_name_the_column_and_what_was_expected(string text, string expected) =>
        Assert.Contains(expected, Error(text));

    [Fact]
    public void Matching_allocates_nothing()
    {
        var rule = Rule(@"Host(`example.com`) && (PathPrefix(`/api`) || PathRegexp(`^/v[0-9]+/`)) && !Method(`DELETE`) && HostRegexp(`^EXAMPLE`)");
        var request = new Request("Example.com", "/v2/items", "GET");
        Assert.False(rule.Matches(request));
        var exact = Rule(@"Host(`example.com`) && (PathPrefix(`/api`) || PathRegexp(`^/v[0-9]+/`)) && HostRegexp(`^example`)");
        Assert.True(exact.Matches(request));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) exact.Matches(request);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
