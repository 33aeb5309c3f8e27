using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Api;

/// <summary>The gateway with its built-in mock, a master key and a small body limit, fresh for each test.</summary>
public abstract class MockGatewayTests : IAsyncLifetime
{
    private protected GatewayServer _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync("""
        server:
          max_request_body_bytes: 65536
        master_key: sk-test-master
        models:
          - name: gpt-4o
            provider: mock
          - name: text-embedding-3-small
            provider: mock
        """);

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    private protected Task<HttpResponseMessage> Post(string path, string json, string? key = "sk-test-master", string header = "Authorization") =>
        _gateway.PostJsonAsync(path, json, configure: r =>
        {
            if (key is null) return;
            r.Headers.TryAddWithoutValidation(header, header == "Authorization" ? "Bearer " + key : key);
        });
}

/// <summary>Health, metrics, OpenAPI, auth, limits and unknown routes on the gateway with its built-in mock.</summary>
[Trait("Category", "functional")]
public class ServiceEndpointsTests : MockGatewayTests
{
    [Fact]
    public async Task Health_reports_status_version_uptime_and_providers()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Authorization = new("Bearer", "sk-test-master");
        using var health = await _gateway.Client.SendAsync(request);
        using var doc = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal("healthy", root.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));
        Assert.True(root.GetProperty("uptime_seconds").GetInt64() >= 0);
        var provider = root.GetProperty("providers")[0];
        Assert.Equal("mock", provider.GetProperty("name").GetString());
        Assert.True(provider.GetProperty("healthy").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client.GetAsync("/health/liveliness")).StatusCode);
    }

    [Fact]
    public async Task Health_uptime_counts_from_the_start_not_from_the_first_health_call()
    {
        await Task.Delay(1500);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Authorization = new("Bearer", "sk-test-master");
        using var health = await _gateway.Client.SendAsync(request);
        using var doc = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        Assert.True(doc.RootElement.GetProperty("uptime_seconds").GetInt64() >= 1, doc.RootElement.ToString());
    }

    [Fact]
    public async Task Metrics_are_prometheus_text_with_requests_latency_tokens_and_overhead()
    {
        (await Post("/v1/chat/completions", Chat.Request("gpt-4o"))).Dispose();
        using (var s = await Post("/v1/chat/completions", Chat.Request("gpt-4o", stream: true, extra: ",\"stream_options\":{\"include_usage\":true}"))) await s.Content.ReadAsStringAsync();
        using var response = await _gateway.Client.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE llm_provider_requests_total counter", text, StringComparison.Ordinal);
        Assert.Contains("llm_provider_requests_total{provider=\"mock\",model=\"gpt-4o\"", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE llm_provider_latency_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("llm_provider_latency_seconds_bucket{provider=\"mock\",model=\"gpt-4o\",deployment=", text, StringComparison.Ordinal);
        Assert.Contains("llm_time_to_first_token_seconds_count{provider=\"mock\",model=\"gpt-4o\"}", text, StringComparison.Ordinal);
        Assert.Contains("llm_tokens_total{provider=\"mock\",model=\"gpt-4o\",direction=\"output\"}", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE gateway_overhead_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("http_requests_total{route=\"/v1/chat/completions\",method=\"POST\",status=\"200\"}", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE http_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-test-master", text, StringComparison.Ordinal);
        // Every sample line parses: name{labels} value.
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
            Assert.Matches(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$", line);
    }

    [Fact]
    public async Task OpenApi_document_lists_the_api()
    {
        using var doc = JsonDocument.Parse(await _gateway.Client.GetStringAsync("/openapi/v1.json"));
        var paths = doc.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/v1/chat/completions", out _));
        Assert.True(paths.TryGetProperty("/v1/embeddings", out _));
        Assert.True(paths.TryGetProperty("/v1/models", out _));
    }

    [Theory]
    [InlineData("Authorization")]
    [InlineData("x-api-key")]
    [InlineData("api-key")]
    public async Task The_master_key_is_accepted_in_each_client_header(string header)
    {
        using var response = await Post("/v1/chat/completions", Chat.Request("gpt-4o"), header: header);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Missing_or_wrong_keys_get_401_in_openai_shape()
    {
        using var missing = await Post("/v1/chat/completions", Chat.Request("gpt-4o"), key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        using (var doc = await GatewayServer.JsonAsync(missing)) Assert.Equal("missing_api_key", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        using var wrong = await Post("/v1/chat/completions", Chat.Request("gpt-4o"), key: "sk-test-mastex");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using var models = await _gateway.Client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
    }

    [Fact]
    public async Task Oversized_bodies_get_413()
    {
        var big = Chat.Request("gpt-4o", content: new string('a', 70_000));
        using var response = await Post("/v1/chat/completions", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("request_too_large", doc.RootElement.GetProperty("error").GetProperty("code").GetString());

        // Without a Content-Length (chunked upload) the limit holds too.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Authorization = new("Bearer", "sk-test-master");
        using var chunked = await _gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_get_an_openai_404()
    {
        using var response = await _gateway.Client.GetAsync("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("unknown_url", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_known_route_with_the_wrong_method_is_a_405()
    {
        using var response = await _gateway.Client.GetAsync("/v1/chat/completions");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("POST", response.Content.Headers.Allow.Single());
    }

    [Fact]
    public async Task A_body_sent_without_a_json_content_type_is_still_served()
    {
        // curl -d sends application/x-www-form-urlencoded unless told otherwise; the body is JSON all the same.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("gpt-4o"), Encoding.UTF8, "application/x-www-form-urlencoded") };
        request.Headers.Authorization = new("Bearer", "sk-test-master");
        using var response = await _gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task An_empty_body_is_a_400_not_a_500()
    {
        using var response = await Post("/v1/chat/completions", "");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}

/// <summary>The /metrics exposition as Prometheus itself parses it: promtool, from Debian's prometheus package.</summary>
[Trait("Category", "deploy")]
public class MetricsExpositionTests : MockGatewayTests
{
    [Fact]
    public async Task Metrics_pass_promtool_check()
    {
        (await Post("/v1/chat/completions", Chat.Request("gpt-4o"))).Dispose();
        (await Post("/v1/chat/completions", Chat.Request("no-such-model"))).Dispose();
        using (var s = await Post("/v1/chat/completions", Chat.Request("gpt-4o", stream: true))) await s.Content.ReadAsStringAsync();
        var metrics = await _gateway.Client.GetStringAsync("/metrics");

        // promtool comes from Debian's prometheus package; scripts/test.sh installs it.
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is not installed: run the tests with scripts/test.sh, which installs it");
        var start = new System.Diagnostics.ProcessStartInfo(promtool!, "check metrics")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0 && output.Trim().Length == 0, $"promtool: exit {process.ExitCode}\n{output}");
    }
}
