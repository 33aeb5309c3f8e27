using AgenticGateway.Configuration;
using AgenticGateway.Services.Sandboxes.Hosts;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Sandboxes.Hosts;

/// <summary>
/// sandboxes.hosts read and checked with every error at once; which requests are calls on a sandbox, by their shape;
/// and the host-to-host signature, which only the secret, the receiving host and the minute make valid.
/// </summary>
[Trait("Category", "unit")]
public sealed class SandboxHostsUnitTests
{
    private const string Secret = "a-shared-secret-of-at-least-32-characters";

    private static ConfigLoadResult Load(string hosts, string storage = "storage: {redis_url: redis://127.0.0.1:6379}") => ConfigLoader.Load($$"""
        models:
          - {name: gpt-4o, provider: mock}
        {{storage}}
        sandboxes:
          hosts: {{hosts}}
        """, "hosts.yaml", new Dictionary<string, string>(), variables: new Dictionary<string, string> { ["HOSTS_SECRET"] = Secret, ["POD_IP"] = "10.0.0.5" });

    [Fact]
    public void Hosts_are_read_with_their_defaults_and_environment_references()
    {
        var result = Load("{id: node-1.example, advertise_url: 'http://${POD_IP}:8080', secret: '${HOSTS_SECRET}', max_sandboxes: 40}");
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var hosts = result.Options!.Sandboxes.Hosts!;
        Assert.Equal("node-1.example", hosts.Id);
        Assert.Equal(new Uri("http://10.0.0.5:8080"), hosts.AdvertiseUrl);
        Assert.Equal(Secret, System.Text.Encoding.UTF8.GetString(hosts.Secret));
        Assert.DoesNotContain(Secret, hosts.ToString());
        Assert.Equal(40, hosts.MaxSandboxes);
        Assert.Equal(TimeSpan.FromSeconds(5), hosts.Heartbeat);
        Assert.Equal(TimeSpan.FromSeconds(20), hosts.Ttl);
        Assert.Equal(TimeSpan.FromSeconds(5), hosts.ConnectTimeout);
        // Without the section, sandboxes are this process's alone.
        Assert.Null(ConfigLoader.Load("models: [{name: m, provider: mock}]", "none.yaml", new Dictionary<string, string>()).Options!.Sandboxes.Hosts);
    }

    [Fact]
    public void Every_mistake_in_the_hosts_section_is_reported_at_once_with_its_path()
    {
        var result = Load("{id: 'has space', advertise_url: 'ftp://x', secret: short, heartbeat: 10s, ttl: 15s, max_sandbox: 3}");
        Assert.Null(result.Options);
        var errors = string.Join("\n", result.Errors);
        Assert.Contains("sandboxes.hosts.id", errors);
        Assert.Contains("sandboxes.hosts.advertise_url", errors);
        Assert.Contains("sandboxes.hosts.secret: is 5 characters; at least 32", errors);
        Assert.Contains("sandboxes.hosts.ttl", errors);
        Assert.Contains("max_sandbox", errors);

        result = Load("{id: a}");
        errors = string.Join("\n", result.Errors);
        Assert.Contains("sandboxes.hosts.advertise_url: is required", errors);
        Assert.Contains("sandboxes.hosts.secret: is required", errors);

        // A secret naming an unset variable is an error, not an empty secret.
        result = Load("{advertise_url: 'http://h:1', secret: '${NOT_SET_ANYWHERE}'}");
        Assert.Contains(result.Errors, e => e.Contains("NOT_SET_ANYWHERE", StringComparison.Ordinal));

        // The registry lives in Redis: hosts without one cannot find each other.
        result = Load($"{{advertise_url: 'http://h:1', secret: '{Secret}'}}", storage: "storage: {}");
        Assert.Contains(result.Errors, e => e.Contains("sandboxes.hosts", StringComparison.Ordinal) && e.Contains("redis_url", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("POST", "/v1/sandboxes", null, "Create", null)]
    [InlineData("GET", "/v1/sandboxes", null, "None", null)]
    [InlineData("GET", "/v1/sandboxes/sb-1234/", null, "Sandbox", "sb-1234")]
    [InlineData("POST", "/v1/sandboxes/sb-1234/execute", null, "Sandbox", "sb-1234")]
    [InlineData("DELETE", "/v1/sandboxes/sb-1234", null, "Sandbox", "sb-1234")]
    [InlineData("POST", "/v1/sandbox/create", null, "Create", null)]
    [InlineData("GET", "/v1/sandbox/create", null, "None", null)]
    [InlineData("POST", "/v1/sandbox/sb-9/destroy", null, "Sandbox", "sb-9")]
    [InlineData("GET", "/v1/sandboxesx/sb-9", null, "None", null)]
    [InlineData("POST", "/e2b/sandboxes", null, "Create", null)]
    [InlineData("POST", "/e2b/v2/sandboxes", null, "Create", null)]
    [InlineData("GET", "/e2b/v2/sandboxes", null, "None", null)]
    [InlineData("POST", "/e2b/sandboxes/i7x/pause", null, "Sandbox", "i7x")]
    [InlineData("GET", "/e2b/v2/sandboxes/i7x/logs", null, "Sandbox", "i7x")]
    [InlineData("GET", "/sandboxes/i7x", null, "Sandbox", "i7x")]
    [InlineData("POST", "/e2b/process.Process/Start", "i7x", "Sandbox", "i7x")]
    [InlineData("POST", "/e2b/filesystem.Filesystem/ListDir", "i7x", "Sandbox", "i7x")]
    [InlineData("GET", "/files", "i7x", "Sandbox", "i7x")]
    [InlineData("POST", "/e2b/execute", "bad id/../x", "None", null)]
    [InlineData("POST", "/e2b/execute", null, "None", null)]
    [InlineData("GET", "/v1/sandboxes/%2e%2e/x", null, "None", null)]
    [InlineData("POST", "/v1/chat/completions", null, "None", null)]
    public void Sandbox_calls_are_known_by_their_shape(string method, string path, string? header, string kind, string? id)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        if (header is not null) context.Request.Headers[SandboxCalls.E2bSandboxHeader] = header;
        var (k, i) = SandboxCalls.Classify(context.Request);
        Assert.Equal(kind, k.ToString());
        Assert.Equal(id, i);
    }

    [Fact]
    public void A_host_signature_holds_only_for_its_host_request_and_minute()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var b = new HostSignature("a-shared-secret-of-at-least-32-characters"u8.ToArray(), "host-b", clock);
        var a = new HostSignature("a-shared-secret-of-at-least-32-characters"u8.ToArray(), "host-a", clock);
        var other = new HostSignature("another-secret-of-at-least-32-characters!"u8.ToArray(), "host-a", clock);

        var signed = b.Sign("host-a", "POST", "/v1/sandboxes/sb-1/execute?x=1");
        Assert.StartsWith("v1;host-b;host-a;", signed);
        Assert.True(a.Verify(signed, "POST", "/v1/sandboxes/sb-1/execute?x=1"));
        Assert.False(a.Verify(signed, "GET", "/v1/sandboxes/sb-1/execute?x=1"));
        Assert.False(a.Verify(signed, "POST", "/v1/sandboxes/sb-2/execute?x=1"));
        Assert.False(a.Verify(signed, "POST", "/v1/sandboxes/sb-1/execute?x=2"));
        Assert.False(b.Verify(signed, "POST", "/v1/sandboxes/sb-1/execute?x=1"));        // made for host-a
        Assert.False(other.Verify(signed, "POST", "/v1/sandboxes/sb-1/execute?x=1"));    // another secret
        Assert.False(a.Verify(signed.Replace("host-b", "host-c"), "POST", "/v1/sandboxes/sb-1/execute?x=1"));
        Assert.False(a.Verify(null, "POST", "/"));
        Assert.False(a.Verify("v1;host-b;host-a;not-a-number;x", "POST", "/"));

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.True(a.Verify(signed, "POST", "/v1/sandboxes/sb-1/execute?x=1"));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(a.Verify(signed, "POST", "/v1/sandboxes/sb-1/execute?x=1"));
    }
}
