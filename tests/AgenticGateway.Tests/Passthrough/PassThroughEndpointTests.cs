using System.Net;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Passthrough;

/// <summary>LiteLLM's general_settings.pass_through_endpoints, read as LiteLLM documents them and served.</summary>
[Trait("Category", "functional")]
public class PassThroughEndpointTests
{
    private const string Master = "sk-gateway-master";
    private const string ProviderKey = "sk-provider-secret";

    [Fact]
    public void LiteLlms_documented_fields_are_read()
    {
        var result = ConfigLoader.Load("""
            model_list:
              - model_name: gpt
                litellm_params: {model: openai/gpt-4o, api_key: k}
            general_settings:
              master_key: sk-1234
              pass_through_endpoints:
                - path: "/v1/rerank"
                  target: "https://api.cohere.com/v1/rerank"
                  headers:
                    Authorization: "bearer os.environ/COHERE_API_KEY"
                    content-type: application/json
                  forward_headers: True
                - path: "/bria/"
                  target: https://engine.prod.bria-api.com
                  include_subpath: true
                  cost_per_request: 12
                  auth: true
                  methods: [post, GET]
                  timeout: 30
            """, "litellm.yaml", new Dictionary<string, string>(), variables: new Dictionary<string, string> { ["COHERE_API_KEY"] = "co-secret" });
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        Assert.True(!result.Warnings.Any(w => w.Contains("pass_through", StringComparison.Ordinal)), string.Join("; ", result.Warnings));
        var endpoints = result.Options!.PassThroughEndpoints;
        Assert.Equal(2, endpoints.Length);
        var rerank = endpoints[0];
        Assert.Equal("/v1/rerank", rerank.Path);
        Assert.Equal("https://api.cohere.com/v1/rerank", rerank.Target.ToString());
        Assert.Equal("bearer co-secret", rerank.Headers.Single(h => h.Key == "Authorization").Value.Value);
        Assert.True(rerank.ForwardHeaders);
        Assert.False(rerank.Auth);
        Assert.False(rerank.IncludeSubpath);
        var bria = endpoints[1];
        Assert.Equal("/bria", bria.Path);
        Assert.True(bria.IncludeSubpath);
        Assert.Equal(12m, bria.CostPerRequest);
        Assert.True(bria.Auth);
        Assert.Equal(new[] { "POST", "GET" }, bria.Methods.ToArray());
        Assert.Equal(TimeSpan.FromSeconds(30), bria.Timeout);
    }

    [Theory]
    [InlineData("{path: bria, target: 'https://x'}", "pass_through_endpoints[0].path: a path starting with '/' is required")]
    [InlineData("{path: /bria, target: custom_callbacks.anthropic_adapter}", "is not an http(s) URL")]
    [InlineData("{path: /bria}", "a target URL is required")]
    [InlineData("{path: /bria, target: 'https://x', cost_per_request: -1}", "expected a non-negative number")]
    [InlineData("{path: /bria, target: 'https://x', methods: [FETCH]}", "'FETCH' is not an HTTP method")]
    [InlineData("{path: /bria, target: 'https://x', colour: red}", "pass_through_endpoints[0].colour: unknown key")]
    public void Our_schema_refuses_a_bad_entry_with_its_path(string entry, string error)
    {
        var result = ConfigLoader.Load($"""
            models: [{"{"}name: gpt, provider: openai, model: gpt-4o, api_key: k{"}"}]
            pass_through_endpoints:
              - {entry}
            """, "agw.yaml", new Dictionary<string, string>());
        Assert.Null(result.Options);
        Assert.Contains(result.Errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_configured_endpoint_forwards_with_its_headers_and_charges_its_cost_per_request()
    {
        await using var upstream = await EmulatorServer.StartAsync(apiKey: ProviderKey);
        await using var gateway = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt
                litellm_params: {"{"}model: openai/gpt-4o, api_key: k, api_base: "{upstream.ApiBase}"{"}"}
            general_settings:
              master_key: {Master}
              pass_through_endpoints:
                - path: /emulator
                  target: "{upstream.ApiBase}"
                  include_subpath: true
                  auth: true
                  cost_per_request: 0.25
                  headers:
                    Authorization: "Bearer {ProviderKey}"
                - path: /open-models
                  target: "{upstream.ApiBase}/models"
                  headers:
                    Authorization: "Bearer {ProviderKey}"
            """);
        var key = await gateway.GenerateKeyAsync("{}", Master);
        var chat = """{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}""";

        using var refused = await gateway.PostJsonAsync("/emulator/chat/completions", chat);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using var served = await gateway.PostJsonAsync("/emulator/chat/completions", chat, configure: r => r.Headers.Authorization = new("Bearer", key));
        var text = await served.Content.ReadAsStringAsync();
        Assert.True(served.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("chat.completion", JsonDocument.Parse(text).RootElement.GetProperty("object").GetString());

        await gateway.FlushSpendAsync();
        var (_, logs) = await gateway.AdminAsync($"/spend/logs?api_key={key}", null, Master);
        var log = Assert.Single(logs.EnumerateArray());
        // The endpoint's price, plus what the model's usage costs (the answer was an LLM call).
        Assert.True(log.GetProperty("spend").GetDecimal() > 0.25m, log.ToString());
        Assert.True(log.GetProperty("total_tokens").GetInt64() > 0);

        // auth: false (LiteLLM's default) is open: no key needed.
        using var open = await gateway.Client.GetAsync("/open-models");
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        Assert.Equal("list", JsonDocument.Parse(await open.Content.ReadAsStringAsync()).RootElement.GetProperty("object").GetString());
    }
}
