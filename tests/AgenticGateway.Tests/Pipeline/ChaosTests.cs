using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>Many concurrent requests against failing upstreams: every answer is complete and well-formed, none hangs.</summary>
[Trait("Category", "functional")]
public class ChaosTests
{
    private static readonly string[] Faults = ["none", "status=500", "status=503", "status=429,retry_after=0", "reset", "cut=2", "cut=0", "malformed", "status=400"];

    [Fact]
    public async Task Concurrent_requests_with_random_faults_always_get_a_well_formed_answer()
    {
        await using var a = await EmulatorServer.StartAsync();
        await using var b = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync($"""
            models:
              - {"{"}name: m, provider: openai_compatible, api_base: "{a.ApiBase}"{"}"}
              - {"{"}name: m, provider: openai_compatible, api_base: "{b.ApiBase}"{"}"}
              - {"{"}name: backup, provider: openai_compatible, api_base: "{b.ApiBase}"{"}"}
            router:
              num_retries: 1
              retry_backoff: 5ms
              max_retry_backoff: 20ms
              allowed_fails: 5
              cooldown_time: 200ms
              fallbacks: {"{"}m: [backup]{"}"}
            """);
        // Deployment A fails in every way, in bursts; B and the fallback are healthy. A few requests are themselves bad.
        var random = new Random(1234);
        for (var i = 0; i < 40; i++) a.Fail(Faults[1 + random.Next(Faults.Length - 2)], count: 1 + random.Next(4));
        var plan = Enumerable.Range(0, 240).Select(i => (Fault: random.Next(20) == 0 ? "status=400" : "none", Stream: random.Next(2) == 0)).ToArray();
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<int>();
        using var gate = new SemaphoreSlim(16);
        var tasks = plan.Select(async p =>
        {
            await gate.WaitAsync();
            try
            {
                var extra = p.Fault == "none" ? "" : $",\"mock_fault\":\"{p.Fault}\"";
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", p.Stream, extra: extra), cts.Token);
                var body = await response.Content.ReadAsStringAsync(cts.Token);
                var status = (int)response.StatusCode;
                outcomes.Add(status);
                Assert.NotEqual(500, status);
                if (status != 200)
                {
                    using var error = JsonDocument.Parse(body);
                    Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("error").GetProperty("message").GetString()));
                    Assert.Contains(status, new[] { 400, 429, 502, 503, 504 });
                }
                else if (p.Stream)
                {
                    var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim()["data: ".Length..]).ToList();
                    // Either complete, or ended by an error event after complete chunks: every event parses.
                    foreach (var e in events.Where(e => e != "[DONE]")) JsonDocument.Parse(e).Dispose();
                    Assert.True(events[^1] == "[DONE]" || events[^1].Contains("upstream_stream_error", StringComparison.Ordinal), events[^1]);
                }
                else
                {
                    using var doc = JsonDocument.Parse(body);
                    Assert.Equal("chat.completion", doc.RootElement.GetProperty("object").GetString());
                }
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);
        Assert.Equal(plan.Length, outcomes.Count);
        // Retries, cooldown and fallbacks absorb the upstream's faults: only the bad requests and streams cut after
        // their first chunk (200 with an error event) are not clean successes.
        Assert.Equal(plan.Count(p => p.Fault == "none"), outcomes.Count(s => s == 200));
        Assert.True(outcomes.Count(s => s == 200) > plan.Length * 0.8, string.Join(",", outcomes.GroupBy(s => s).Select(g => $"{g.Key}x{g.Count()}")));
        using var health = JsonDocument.Parse(await gw.Client.GetStringAsync("/health"));
        Assert.All(health.RootElement.GetProperty("deployments").EnumerateArray(), d => Assert.Equal(0, d.GetProperty("in_flight").GetInt32()));
    }
}
