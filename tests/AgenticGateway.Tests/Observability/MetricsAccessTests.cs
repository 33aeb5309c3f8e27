using System.Net;
using System.Text.Json;
using AgenticGateway.Observability;
using AgenticGateway.Tests.Support;
using AgenticGateway.Hosting;

namespace AgenticGateway.Tests.Observability;

/// <summary>
/// /metrics can be put behind the master key (server.metrics_auth, LiteLLM's require_auth_for_metrics_endpoint) or on a
/// listener of its own (server.metrics_urls), and it never names an upstream URL.
/// </summary>
[Trait("Category", "functional")]
public class MetricsAccessTests
{
    private const string Master = "sk-metrics-master";

    [Theory]
    [InlineData("own")]
    [InlineData("litellm")]
    public async Task With_metrics_auth_only_the_admin_reads_metrics(string schema)
    {
        var yaml = schema == "own"
            ? $"master_key: {Master}\nserver: {{metrics_auth: true}}\nmodels:\n  - {{name: gpt-4o, provider: mock}}\n"
            : $"model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: mock/gpt-4o}}\nlitellm_settings:\n  require_auth_for_metrics_endpoint: true\ngeneral_settings:\n  master_key: {Master}\n";
        await using var g = await GatewayServer.StartAsync(yaml);
        var key = await g.GenerateKeyAsync("{}", Master);

        using (var anonymous = await g.Client.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using var error = JsonDocument.Parse(await anonymous.Content.ReadAsStringAsync());
            Assert.Equal("missing_api_key", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        Assert.Equal(HttpStatusCode.Forbidden, (await Get(g, "/metrics", key)).StatusCode);
        using var admin = await Get(g, "/metrics", Master);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Contains("# TYPE", await admin.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_metrics_listener_serves_metrics_alone_and_the_api_no_longer_does()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var g = await GatewayServer.StartAsync($"""
            master_key: {Master}
            server: {"{"}metrics_urls: "http://127.0.0.1:0"{"}"}
            models:
              - {"{"}name: gpt-4o, provider: openai_compatible, api_base: "{upstream.ApiBase}"{"}"}
            """);
        using (var chat = await g.ChatAsync(Master)) Assert.Equal(HttpStatusCode.OK, chat.StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await Get(g, "/metrics", Master)).StatusCode);
        var listener = g.Services.GetRequiredService<MetricsListener>();
        using var scraper = new HttpClient { BaseAddress = new Uri(listener.Addresses[0]) };
        var exposition = await scraper.GetStringAsync("/metrics");
        Assert.Contains("llm_provider_requests_total{", exposition, StringComparison.Ordinal);
        // The upstream's address is in no label (deployment ids are hashes unless the operator names them).
        Assert.DoesNotContain(new Uri(upstream.Url).Authority, exposition, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await scraper.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scraper.PostAsync("/v1/chat/completions", new StringContent(Chat.Request("gpt-4o")))).StatusCode);
    }

    private static Task<HttpResponseMessage> Get(GatewayServer g, string path, string key) =>
        g.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new("Bearer", key) } });
}
