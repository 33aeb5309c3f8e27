using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Egress;

namespace AgenticGateway.Tests.Sandboxes.Egress;

/// <summary>Which names allow_hosts, the operator's ceiling and proxied requests accept, and how entries match.</summary>
[Trait("Category", "unit")]
public class EgressHostNamesTests
{
    [Theory]
    [InlineData("127.0.0.1", "is an IP address")]
    [InlineData("127.1", "is an IP address")]
    [InlineData("2130706433", "is an IP address")]
    [InlineData("0x7f000001", "is an IP address")]
    [InlineData("0x7f.1", "is an IP address")]
    [InlineData("0177.0.0.1", "is an IP address")]
    [InlineData("0.0.0.0", "is an IP address")]
    [InlineData("1.2.3.4.", "is an IP address")]
    [InlineData("169.254.169.254", "is an IP address")]
    [InlineData("[::1]", "is an IP address")]
    [InlineData("::1", "is an IP address")]
    [InlineData("::ffff:127.0.0.1", "is an IP address")]
    [InlineData("fe80::1%lo", "is an IP address")]
    [InlineData("*.0.0.1", "is an IP address")]
    [InlineData("*.1", "is an IP address")]
    [InlineData("*.0x7f", "is an IP address")]
    [InlineData("localhost", "localhost")]
    [InlineData("LOCALHOST", "localhost")]
    [InlineData("localhost.", "localhost")]
    [InlineData("LocalHost.", "localhost")]
    [InlineData("foo.localhost", "localhost")]
    [InlineData("*.localhost", "localhost")]
    [InlineData("", "is not a host name")]
    [InlineData("*", "is not a host name")]
    [InlineData("*.", "is not a host name")]
    [InlineData("a..b", "is not a host name")]
    [InlineData("-a.com", "is not a host name")]
    [InlineData("ex ample.com", "is not a host name")]
    [InlineData("user@example.com", "is not a host name")]
    [InlineData("*.*.example.com", "is not a host name")]
    public void Addresses_localhost_and_non_names_are_refused(string entry, string reason)
    {
        var problem = EgressHostNames.Problem(EgressHostNames.Normalize(entry), wildcard: true);
        Assert.NotNull(problem);
        Assert.Contains(reason, problem);
    }

    [Theory]
    [InlineData("pypi.org", "pypi.org")]
    [InlineData("PyPI.org.", "pypi.org")]
    [InlineData("*.pythonhosted.org", "*.pythonhosted.org")]
    [InlineData("registry.npmjs.org", "registry.npmjs.org")]
    [InlineData("127.0.0.1.nip.io", "127.0.0.1.nip.io")]   // a name; what it resolves to is checked when connecting
    [InlineData("xn--nxasmq6b.com", "xn--nxasmq6b.com")]
    [InlineData("mirror", "mirror")]
    public void Host_names_pass_normalized(string entry, string normalized)
    {
        Assert.Equal(normalized, EgressHostNames.Normalize(entry));
        Assert.Null(EgressHostNames.Problem(normalized, wildcard: true));
    }

    [Fact]
    public void A_wildcard_is_only_a_list_entry_never_a_request_target() =>
        Assert.NotNull(EgressHostNames.Problem("*.example.com", wildcard: false));

    [Theory]
    [InlineData("pypi.org", "pypi.org", true)]
    [InlineData("files.pythonhosted.org", "*.pythonhosted.org", true)]
    [InlineData("a.b.pythonhosted.org", "*.pythonhosted.org", true)]
    [InlineData("pythonhosted.org", "*.pythonhosted.org", false)]
    [InlineData("evilpythonhosted.org", "*.pythonhosted.org", false)]
    [InlineData("pypi.org.evil.com", "pypi.org", false)]
    [InlineData("evilpypi.org", "pypi.org", false)]
    public void Entries_match_the_name_or_names_under_a_wildcard(string host, string entry, bool matches) =>
        Assert.Equal(matches, EgressHostNames.Matches(host, entry));

    [Theory]
    [InlineData("pypi.org", "pypi.org", true)]
    [InlineData("*.pythonhosted.org", "files.pythonhosted.org", true)]
    [InlineData("*.pythonhosted.org", "*.pythonhosted.org", true)]
    [InlineData("*.pythonhosted.org", "*.files.pythonhosted.org", true)]
    [InlineData("*.pythonhosted.org", "pythonhosted.org", false)]
    [InlineData("*.pythonhosted.org", "*.org", false)]
    [InlineData("pypi.org", "*.pypi.org", false)]
    [InlineData("pypi.org", "www.pypi.org", false)]
    public void A_ceiling_entry_covers_what_it_would_match(string ceiling, string entry, bool covers) =>
        Assert.Equal(covers, EgressHostNames.Covers(ceiling, entry));

    [Fact]
    public void Allow_hosts_must_fall_within_the_operators_ceiling()
    {
        var options = new SandboxOptions { Egress = new EgressOptions { AllowHosts = ["pypi.org", "*.pythonhosted.org"] } };
        foreach (var ok in new[] { "pypi.org", "PYPI.ORG.", "files.pythonhosted.org", "*.pythonhosted.org", "*.files.pythonhosted.org" })
        {
            var (spec, error) = Parse(ok, options);
            Assert.True(error is null, $"{ok}: {error?.Message}");
            Assert.Equal(EgressHostNames.Normalize(ok), Assert.Single(spec!.Network.AllowHosts));
        }
        foreach (var refused in new[] { "example.com", "evilpypi.org", "*.pypi.org", "pythonhosted.org", "*.org" })
        {
            var (spec, error) = Parse(refused, options);
            Assert.Null(spec);
            Assert.Equal((400, "allow_hosts"), (error!.Status, error.Param));
            Assert.Contains($"'{refused}' is not permitted by this gateway (sandboxes.egress.allow_hosts: pypi.org, *.pythonhosted.org)", error.Message);
        }
        // No ceiling (the default): any host name.
        Assert.Null(Parse("example.com", new SandboxOptions()).Error);
        // An empty ceiling: none.
        Assert.Contains("this gateway allows no egress", Parse("pypi.org", new SandboxOptions { Egress = new EgressOptions { AllowHosts = [] } }).Error!.Message);
    }

    private static (SandboxSpec? Spec, AgenticGateway.OpenAi.ApiError? Error) Parse(string host, SandboxOptions options)
    {
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(new { network = "allowlist", allow_hosts = new[] { host } }));
        return SandboxSpec.Parse(doc.RootElement, options);
    }

    [Theory]
    [InlineData("{allow_hosts: [127.0.0.1]}", "sandboxes.egress.allow_hosts[0]: '127.0.0.1' is an IP address")]
    [InlineData("{allow_hosts: [pypi.org, localhost]}", "sandboxes.egress.allow_hosts[1]: 'localhost' names the gateway's own machine")]
    [InlineData("{allow_hosts: ['*.0.0.1']}", "sandboxes.egress.allow_hosts[0]: '*.0.0.1' is an IP address")]
    [InlineData("{allow_hosts: [a.org], allow_private_networks: [10.0.0.1/8]}", "sandboxes.egress.allow_private_networks[0]: '10.0.0.1/8' has bits set beyond its prefix; write 10.0.0.0/8")]
    [InlineData("{allow_hosts: [a.org], allow_private_networks: [mirror]}", "sandboxes.egress.allow_private_networks[0]: 'mirror' is not a network in CIDR notation")]
    [InlineData("{allow_hosts: [a.org], allow_private_networks: [10.0.0.5]}", "sandboxes.egress.allow_private_networks[0]: '10.0.0.5' is not a network in CIDR notation")]
    [InlineData("{allow_hosts: [a.org], allow_private_networks: [169.254.169.254/32]}", "'169.254.169.254/32' is a cloud metadata address, which is refused whatever the configuration")]
    [InlineData("{allow_private_networks: [10.0.0.0/8]}", "sandboxes.egress.allow_private_networks: needs sandboxes.egress.allow_hosts (a ceiling)")]
    [InlineData("{allow_host: [pypi.org]}", "sandboxes.egress.allow_host: unknown key")]
    public void Egress_config_errors_name_the_key(string egress, string expected)
    {
        var result = ConfigLoader.Load($"models: [{{name: m, provider: mock}}]\nsandboxes:\n  egress: {egress}\n", "test.yaml", new Dictionary<string, string>());
        Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Egress_config_reports_every_bad_entry_and_reads_a_good_one()
    {
        var bad = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes:\n  egress: {allow_hosts: [127.0.0.1, localhost, pypi.org]}\n", "test.yaml", new Dictionary<string, string>());
        Assert.Contains(bad.Errors, e => e.StartsWith("sandboxes.egress.allow_hosts[0]", StringComparison.Ordinal));
        Assert.Contains(bad.Errors, e => e.StartsWith("sandboxes.egress.allow_hosts[1]", StringComparison.Ordinal));

        var good = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes:\n  egress: {allow_hosts: [PyPI.org, '*.pythonhosted.org'], allow_private_networks: [10.20.0.0/16, 'fd12:3456::/48']}\n",
            "test.yaml", new Dictionary<string, string>());
        Assert.Empty(good.Errors);
        var egress = good.Options!.Sandboxes.Egress;
        Assert.Equal(new[] { "pypi.org", "*.pythonhosted.org" }, egress.AllowHosts!.Value.ToArray());
        Assert.Equal(new[] { "10.20.0.0/16", "fd12:3456::/48" }, egress.AllowPrivateNetworks.Select(n => n.ToString()).ToArray());

        var none = ConfigLoader.Load("models: [{name: m, provider: mock}]\n", "test.yaml", new Dictionary<string, string>());
        Assert.Null(none.Options!.Sandboxes.Egress.AllowHosts);
        Assert.Empty(none.Options.Sandboxes.Egress.AllowPrivateNetworks);
    }
}
