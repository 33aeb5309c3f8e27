using System.Net;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// Sandbox metrics: the official e2b SDK's getMetrics on a bubblewrap sandbox (samples every 5 s of CPU, memory and
/// disk, start/end, another owner), E2B's many-sandboxes metrics and the native GET /v1/sandboxes/{id}/metrics on the
/// wire, and a paused sandbox that keeps its samples without taking new ones.
/// </summary>
[Trait("Category", "sandbox")]
public class E2bMetricsTests(E2bFixture e2b) : IClassFixture<E2bFixture>
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task GetMetrics_samples_cpu_memory_and_disk_every_five_seconds_filters_by_start_and_end_and_hides_other_owners_sandboxes()
    {
        var other = await e2b.NewKeyAsync();
        var r = await e2b.RunSdkJsonAsync("metrics.mjs", new Dictionary<string, string> { ["OTHER_KEY"] = other });

        var metrics = r.GetProperty("metrics").EnumerateArray().ToList();
        Assert.True(metrics.Count >= 2, r.ToString());
        Assert.Contains(metrics, m => m.GetProperty("cpuUsedPct").GetDouble() > 0);
        var memoryMb = r.GetProperty("memoryMB").GetInt64();
        foreach (var m in metrics)
        {
            Assert.True(m.GetProperty("memUsed").GetInt64() > 0, m.ToString());
            Assert.Equal(memoryMb * MiB, m.GetProperty("memTotal").GetInt64());
            Assert.Equal(r.GetProperty("cpuCount").GetInt32(), m.GetProperty("cpuCount").GetInt32());
            // The SDK's info has no disk size: the gateway's default disk_mb.
            Assert.Equal(512 * MiB, m.GetProperty("diskTotal").GetInt64());
            Assert.InRange(m.GetProperty("cpuUsedPct").GetDouble(), 0, 100);
            Assert.True(m.GetProperty("memCache").GetInt64() >= 0);
        }
        // The 2 MiB file in /home/user (a tmpfs) is disk, not memory.
        Assert.Contains(metrics, m => m.GetProperty("diskUsed").GetInt64() >= 2 * MiB);

        // Whole seconds, in order, about 5 s apart.
        var times = metrics.Select(m => m.GetProperty("timestamp").GetDateTimeOffset()).ToList();
        Assert.All(times, t => Assert.Equal(0, t.Millisecond));
        for (var i = 1; i < times.Count; i++) Assert.InRange((times[i] - times[i - 1]).TotalSeconds, 4, 7);

        Assert.True(r.GetProperty("byId").GetArrayLength() >= metrics.Count);
        var fromSecond = r.GetProperty("fromSecond").EnumerateArray().Select(m => m.GetProperty("timestamp").GetDateTimeOffset()).ToList();
        Assert.Equal(times[1], fromSecond.First());
        Assert.All(fromSecond, t => Assert.True(t >= times[1]));
        var untilFirst = r.GetProperty("untilFirst").EnumerateArray().Select(m => m.GetProperty("timestamp").GetDateTimeOffset()).ToList();
        Assert.Equal([times[0]], untilFirst);
        Assert.Equal(0, r.GetProperty("future").GetArrayLength());

        var refused = r.GetProperty("otherOwner").GetProperty("error");
        Assert.Equal("SandboxNotFoundError", refused.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Native_and_many_sandboxes_metrics_are_owner_scoped_and_a_paused_sandbox_keeps_its_samples_without_new_ones()
    {
        var gateway = e2b.Gateway;
        var id = await gateway.CreateAsync("""{"runtime":"python","timeout":300}""");
        var other = await e2b.NewKeyAsync();
        try
        {
            await gateway.RunAsync(id, "timeout 8 sh -c 'while :; do :; done'", "\"background\":true");
            var samples = await SamplesAsync(id, s => s.Any(m => m.GetProperty("cpu_used_pct").GetDouble() > 0));
            var sample = samples.Last();
            Assert.Equal(512 * MiB, sample.GetProperty("mem_total").GetInt64());
            Assert.True(sample.GetProperty("mem_used").GetInt64() > 0);

            // E2B's many-sandboxes variant: the latest sample of each of the caller's sandboxes, others left out.
            var (status, many) = await E2bAsync($"/e2b/sandboxes/metrics?sandbox_ids={id},sb-00000000000000000000");
            Assert.Equal(HttpStatusCode.OK, status);
            var listed = Assert.Single(many.GetProperty("sandboxes").EnumerateObject());
            Assert.Equal(id, listed.Name);
            Assert.Equal(512 * MiB, listed.Value.GetProperty("memTotal").GetInt64());
            Assert.True(listed.Value.GetProperty("timestampUnix").GetInt64() > 0);

            // Another owner: a 404 on both APIs, nothing in the many-sandboxes answer.
            Assert.Equal(HttpStatusCode.NotFound, (await gateway.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/metrics", key: other)).Status);
            var (otherStatus, otherBody) = await E2bAsync($"/e2b/sandboxes/{id}/metrics", other);
            Assert.Equal(HttpStatusCode.NotFound, otherStatus);
            Assert.Equal(404, otherBody.GetProperty("code").GetInt32());
            (otherStatus, otherBody) = await E2bAsync($"/e2b/sandboxes/metrics?sandbox_ids={id}", other);
            Assert.Equal(HttpStatusCode.OK, otherStatus);
            Assert.Empty(otherBody.GetProperty("sandboxes").EnumerateObject());

            // Bad intervals are the caller's error.
            Assert.Equal(HttpStatusCode.BadRequest, (await E2bAsync($"/e2b/sandboxes/{id}/metrics?start=yesterday")).Status);
            Assert.Equal(HttpStatusCode.BadRequest, (await E2bAsync($"/e2b/sandboxes/{id}/metrics?start=200&end=100")).Status);
            Assert.Equal(HttpStatusCode.BadRequest, (await gateway.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/metrics?end=-1")).Status);

            // Paused: its samples are still answered, and no new one is taken.
            Assert.Equal(HttpStatusCode.OK, (await gateway.PostAsync($"/v1/sandboxes/{id}/pause", "{}")).Status);
            var paused = (await SamplesAsync(id, _ => true)).Count;
            Assert.True(paused >= samples.Count);
            await Task.Delay(TimeSpan.FromSeconds(7));
            Assert.Equal(paused, (await SamplesAsync(id, _ => true)).Count);

            // Resumed: the same ring goes on.
            Assert.Equal(HttpStatusCode.OK, (await gateway.PostAsync($"/v1/sandboxes/{id}/resume", "{}")).Status);
            await SamplesAsync(id, s => s.Count > paused);
        }
        finally
        {
            await gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        }
    }

    /// <summary>The native metrics until <paramref name="until"/> holds of them (within 30 s).</summary>
    private async Task<List<JsonElement>> SamplesAsync(string id, Func<List<JsonElement>, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var (status, body) = await e2b.Gateway.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}/metrics");
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            Assert.Equal("list", body.GetProperty("object").GetString());
            var samples = body.GetProperty("data").EnumerateArray().Select(e => e.Clone()).ToList();
            if (until(samples)) return samples;
            Assert.True(DateTime.UtcNow < deadline, $"no such samples in 30 s: {body}");
            await Task.Delay(1000);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> E2bAsync(string path, string key = Sandboxes.SandboxGateway.Master)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-API-KEY", key);
        using var response = await e2b.Gateway.Server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone());
    }
}
