using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>Retries, fallbacks, cooldowns, timeouts and broken upstreams, against real emulator servers.</summary>
[Trait("Category", "functional")]
public class ResilienceTests : IAsyncLifetime
{
    private EmulatorServer _a = null!;
    private EmulatorServer _b = null!;

    public async Task InitializeAsync()
    {
        _a = await EmulatorServer.StartAsync();
        _b = await EmulatorServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private string Deployment(string name, EmulatorServer server, string? extra = null) => $"""
          - name: {name}
            provider: openai_compatible
            model: {name}
            api_base: {server.ApiBase}
        {extra ?? ""}
        """;

    /// <param name="time">The gateway's clock; a fake one moves past a cooldown without waiting for it.</param>
    private Task<GatewayServer> Gateway(string models, string router, TimeProvider? time = null) => GatewayServer.StartAsync($"""
        models:
        {models}
        router:
          retry_backoff: 10ms
          max_retry_backoff: 50ms
        {router}
        """, time: time);

    [Fact]
    public async Task A_failed_attempt_is_retried_on_another_deployment_of_the_group()
    {
        await using var gw = await Gateway(Deployment("m", _a) + Deployment("m", _b), "  num_retries: 2\n  strategy: round-robin");
        _a.Fail("status=500", count: 100);
        for (var i = 0; i < 4; i++)
        {
            using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.True(_b.Engine.RequestCount >= 4);
    }

    [Fact]
    public async Task Retries_with_backoff_on_a_single_deployment_until_it_recovers()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 3\n  allowed_fails: 10");
        _a.Fail("status=503", count: 2);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3", response.Headers.GetValues("x-agw-attempts").Single());
        Assert.False(response.Headers.Contains("x-litellm-attempted-retries")); // LiteLLM's headers only when asked for
    }

    [Fact]
    public async Task Retry_after_from_the_provider_is_honoured()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 1\n  allowed_fails: 10");
        _a.Fail("status=429,retry_after=1", count: 1);
        var started = DateTime.UtcNow;
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(900));
    }

    [Fact]
    public async Task Upstream_429_is_passed_on_with_retry_after_when_retries_run_out()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 0");
        _a.Fail("status=429,retry_after=7", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter!.Delta);
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("rate_limit_exceeded", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Fallbacks_are_tried_in_order_after_the_group_fails()
    {
        await using var gw = await Gateway(Deployment("primary", _a) + Deployment("second", _a) + Deployment("third", _b),
            "  num_retries: 0\n  fallbacks:\n    primary: [second, third]");
        _a.Fail("status=500", count: 2);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("primary"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("third", response.Headers.GetValues("x-agw-model-group").Single());
        Assert.Equal("2", response.Headers.GetValues("x-agw-fallbacks").Single());
        Assert.Equal(1, _b.Engine.RequestsFor("third"));
    }

    [Fact]
    public async Task Context_window_errors_use_context_window_fallbacks_without_retrying()
    {
        await using var gw = await Gateway(Deployment("small", _a) + Deployment("big", _b) + Deployment("other", _b),
            "  num_retries: 3\n  fallbacks: {small: [other]}\n  context_window_fallbacks: {small: [big]}");
        _a.Fail("context_window", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("small"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("big", response.Headers.GetValues("x-agw-model-group").Single());
        Assert.Equal(1, _a.Engine.RequestCount);
    }

    [Fact]
    public async Task Content_policy_errors_use_content_policy_fallbacks()
    {
        await using var gw = await Gateway(Deployment("strict", _a) + Deployment("lenient", _b),
            "  num_retries: 0\n  content_policy_fallbacks: {strict: [lenient]}");
        _a.Fail("content_policy", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("strict"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("lenient", response.Headers.GetValues("x-agw-model-group").Single());
    }

    [Fact]
    public async Task Default_fallbacks_apply_to_groups_without_their_own()
    {
        await using var gw = await Gateway(Deployment("any", _a) + Deployment("safety-net", _b), "  num_retries: 0\n  default_fallbacks: [safety-net]");
        _a.Fail("status=502", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("any"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("safety-net", response.Headers.GetValues("x-agw-model-group").Single());
    }

    [Fact]
    public async Task A_failing_deployment_cools_down_is_skipped_and_recovers_after_a_probe()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gw = await Gateway(Deployment("m", _a) + Deployment("m", _b),
            "  num_retries: 1\n  allowed_fails: 2\n  cooldown_time: 1s\n  strategy: round-robin", clock);
        _a.Fail("status=500", count: 1000, model: "m");
        // Two failures on A put it into cooldown; retries land on B so every client request succeeds.
        for (var i = 0; i < 6; i++)
        {
            using var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        var aAfterTrip = _a.Engine.RequestCount;
        Assert.Equal(2, aAfterTrip);
        using (var health = JsonDocument.Parse(await gw.Client.GetStringAsync("/health")))
        {
            Assert.Contains(health.RootElement.GetProperty("deployments").EnumerateArray(), d => d.GetProperty("state").GetString() == "cooldown");
        }
        Assert.Contains("llm_deployment_state{provider=\"openai_compatible\",model=\"m\",deployment=", await gw.Client.GetStringAsync("/metrics"), StringComparison.Ordinal);

        // While cooling down, A gets no traffic at all.
        for (var i = 0; i < 4; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).Dispose();
        Assert.Equal(aAfterTrip, _a.Engine.RequestCount);

        // After the cooldown a probe goes through; A is healthy again and takes its share.
        _a.Engine.Script.Clear();
        clock.Advance(TimeSpan.FromMilliseconds(1200));
        for (var i = 0; i < 6; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).Dispose();
        Assert.True(_a.Engine.RequestCount >= aAfterTrip + 2, $"A got {_a.Engine.RequestCount - aAfterTrip} requests after recovery");
    }

    [Fact]
    public async Task When_every_deployment_cools_down_the_client_gets_503_with_retry_after_and_no_upstream_call()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 0\n  allowed_fails: 1\n  cooldown_time: 30s");
        // Failures of two requests take the deployment out (one request alone never does).
        _a.Fail("status=500", count: 2);
        for (var i = 0; i < 2; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).Dispose();
        var before = _a.Engine.RequestCount;
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(before, _a.Engine.RequestCount);
    }

    [Fact]
    public async Task Upstream_failure_after_everything_is_a_502_and_503_stays_503()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 0\n  allowed_fails: 100");
        _a.Fail("status=500", count: 1);
        using (var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode);
            using var doc = await GatewayServer.JsonAsync(r);
            Assert.Equal("upstream_error", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        _a.Fail("status=503", count: 1);
        using (var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m")))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
    }

    [Fact]
    public async Task Connection_resets_and_malformed_bodies_are_retried()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 2\n  allowed_fails: 100");
        _a.Fail("reset", count: 1);
        _a.Fail("malformed", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3", response.Headers.GetValues("x-agw-attempts").Single());
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("chat.completion", doc.RootElement.GetProperty("object").GetString());
    }

    [Fact]
    public async Task A_deployment_timeout_is_retried_and_the_request_timeout_gives_504()
    {
        await using (var gw = await Gateway(Deployment("m", _a, "    timeout: 300ms"), "  num_retries: 1\n  allowed_fails: 100"))
        {
            _a.Fail("timeout", count: 1);
            using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("2", response.Headers.GetValues("x-agw-attempts").Single());
        }
        await using (var gw = await Gateway(Deployment("m", _a), "  num_retries: 5\n  timeout: 500ms"))
        {
            _a.Fail("timeout", count: 10);
            var started = DateTime.UtcNow;
            using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task A_stream_that_fails_before_its_first_chunk_is_retried()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 1\n  allowed_fails: 100");
        _a.Fail("cut=0", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("2", response.Headers.GetValues("x-agw-attempts").Single());
    }

    [Fact]
    public async Task A_stream_cut_mid_way_ends_with_an_error_event_and_a_clean_close()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 3");
        _a.Fail("cut=3", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadEventsAsync(response); // completes: the stream was closed cleanly, not hung
        Assert.Equal(4, events.Count);
        Assert.All(events.Take(3), e => Assert.Equal("chat.completion.chunk", JsonDocument.Parse(e).RootElement.GetProperty("object").GetString()));
        using var error = JsonDocument.Parse(events[^1]);
        Assert.Equal("upstream_stream_error", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, _a.Engine.RequestCount); // no retry after the client got data
    }

    [Fact]
    public async Task A_stalled_stream_is_ended_by_the_idle_timeout()
    {
        // Control: a stream that keeps producing is not cut by the same idle timeout.
        await using var gw = await Gateway(Deployment("m", _a), "  stream_idle_timeout: 300ms");
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[DONE]", (await Sse.ReadEventsAsync(response))[^1]);

        // One token a second: the gap between chunks exceeds the idle timeout.
        await using var slow = await EmulatorServer.StartAsync(new AgenticGateway.Emulator.MockSettings(TimeSpan.Zero, TimeSpan.Zero, 1, null));
        await using var gw2 = await Gateway(Deployment("m", slow), "  stream_idle_timeout: 300ms");
        var started = DateTime.UtcNow;
        using var stalled = await gw2.PostJsonAsync("/v1/chat/completions", Chat.Request("m", stream: true));
        var events = await Sse.ReadEventsAsync(stalled);
        Assert.Contains("upstream_stream_error", events[^1], StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Client_disconnect_cancels_the_upstream_call()
    {
        await using var slow = await EmulatorServer.StartAsync(new AgenticGateway.Emulator.MockSettings(TimeSpan.Zero, TimeSpan.Zero, 5, null));
        await using var gw = await Gateway(Deployment("m", slow), "");
        using var cts = new CancellationTokenSource();
        var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m", stream: true), cts.Token);
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        Assert.True(await stream.ReadAsync(buffer) > 0);
        Assert.Equal(1, slow.Engine.InFlight);
        cts.Cancel();
        response.Dispose();
        await slow.Engine.WhenEndedAsync(1).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, slow.Engine.InFlight);
        Assert.Equal(1, slow.Engine.Cancelled);
    }

    [Fact]
    public async Task A_probe_that_ends_in_a_bad_request_does_not_leave_the_deployment_stuck()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 0\n  allowed_fails: 1\n  cooldown_time: 300ms", clock);
        _a.Fail("status=500", count: 2);
        for (var i = 0; i < 2; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).Dispose();
        clock.Advance(TimeSpan.FromMilliseconds(400));
        _a.Fail("status=400", count: 1);
        using (var probe = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m")))
            Assert.Equal(HttpStatusCode.BadRequest, probe.StatusCode);
        using var next = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Rejected_provider_credentials_are_a_502_that_does_not_echo_the_provider_message()
    {
        await using var gw = await Gateway(Deployment("m", _a), "  num_retries: 0");
        _a.Fail("status=401,message=Incorrect API key provided: sk-abc***xyz", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("upstream_auth_error", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-abc", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_a_failure_cools_the_last_deployment_down_the_client_sees_that_failure_not_a_503()
    {
        await using var gw = await Gateway(Deployment("m", _a) + Deployment("m", _b), "  num_retries: 3\n  strategy: round-robin");
        _a.Fail("status=404", count: 10);
        _b.Fail("status=404", count: 10);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(2, _a.Engine.RequestCount + _b.Engine.RequestCount);
    }
}
