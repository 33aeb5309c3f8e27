using System.Diagnostics;
using System.Net;

namespace AgenticGateway.Tests.Sandboxes.Hosts;

/// <summary>
/// Hosts that are full or gone: a create a full host cannot take runs on the other host, and a sandbox whose host was
/// killed is answered at once (503, then 404 once the registry has forgotten the host), never left hanging.
/// </summary>
[Trait("Category", "sandbox")]
[Collection(HostPair.Collection)]
public sealed class HostFailureTests
{
    [Fact]
    public async Task A_create_on_a_full_host_runs_on_the_other_and_a_killed_hosts_sandbox_is_answered_at_once()
    {
        // A ttl long enough that A's entries outlive its killing (SIGKILL and the wait for its processes to go).
        await using var pair = await HostPair.StartAsync(hostsB: "max_sandboxes: 1", ttl: "6s");
        var (a, b) = (pair.A, pair.B);

        var first = await b.CreateAsync();
        Assert.Equal("host-b", await pair.HostOfAsync(first));
        // B is full: the next create made through B is placed on A, and answered as usual.
        var placed = await b.CreateAsync();
        Assert.Equal("host-a", await pair.HostOfAsync(placed));
        var (status, run) = await b.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{placed}/execute", """{"code":"print('placed')"}""");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {run}");
        Assert.Equal("placed\n", run.GetProperty("stdout").GetString());

        // A dies without a word: its entries stay in Redis until the ttl passes, and calls to it fail fast meanwhile.
        a.Kill();
        Assert.Equal("host-a", await pair.HostOfAsync(placed));
        var clock = Stopwatch.StartNew();
        (status, var error) = await b.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{placed}/execute", """{"code":"print(1)"}""");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{status}: {error}");
        Assert.Equal("sandbox_host_unreachable", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("not reachable", error.GetProperty("error").GetProperty("message").GetString());
        Assert.DoesNotContain("127.0.0.1", error.GetProperty("error").GetProperty("message").GetString());
        var metrics = (await b.Client.GetStringAsync("/metrics")).Split('\n').Where(l => l.StartsWith("sandbox_host_forwards_total{", StringComparison.Ordinal)).ToList();
        Assert.Contains(metrics, l => l.Contains("kind=\"create\"") && l.Contains("result=\"answered\""));
        Assert.Contains(metrics, l => l.Contains("kind=\"call\"") && l.Contains("result=\"unreachable\""));

        // Once the ttl has passed, the dead host and its sandboxes are forgotten: a plain "not found".
        var deadline = Stopwatch.StartNew();
        while (await pair.HostOfAsync(placed) is not null)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "host-a's entries did not lapse");
            await Task.Delay(200);
        }
        clock.Restart();
        (status, error) = await b.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{placed}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.True(status == HttpStatusCode.NotFound, $"{status}: {error}");
        Assert.Equal("sandbox_not_found", error.GetProperty("error").GetProperty("code").GetString());

        // B's own sandbox is untouched, and with A gone (and B full) a create is refused, not hung.
        (status, run) = await b.SendAsync(HttpMethod.Post, $"/v1/sandboxes/{first}/execute", """{"code":"print('still here')"}""");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {run}");
        (status, error) = await b.SendAsync(HttpMethod.Post, "/v1/sandboxes", """{"runtime":"python"}""");
        Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{status}: {error}");
        Assert.Equal("sandbox_capacity", error.GetProperty("error").GetProperty("code").GetString());
    }
}
