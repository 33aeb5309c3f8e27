using System.Net;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Configuration;

/// <summary>A LiteLLM proxy config.yaml, loaded unchanged, routes as LiteLLM would.</summary>
[Trait("Category", "functional")]
public class LiteLlmRoutingTests
{
    [Fact]
    public async Task A_litellm_config_with_several_providers_groups_and_fallbacks_routes_as_litellm_would()
    {
        await using var openai = await EmulatorServer.StartAsync(apiKey: "sk-openai");
        await using var azure = await EmulatorServer.StartAsync(apiKey: "azure-key");
        await using var groq = await EmulatorServer.StartAsync(apiKey: "gsk-groq");
        Environment.SetEnvironmentVariable("AGW_TEST_AZURE_KEY", "azure-key");
        try
        {
            await using var gw = await GatewayServer.StartAsync($"""
                model_list:
                  - model_name: gpt-4o
                    litellm_params:
                      model: openai/gpt-4o
                      api_base: {openai.ApiBase}
                      api_key: sk-openai
                      rpm: 600
                  - model_name: gpt-4o
                    litellm_params:
                      model: azure/gpt4o-eastus
                      api_base: {azure.Url}
                      api_key: os.environ/AGW_TEST_AZURE_KEY
                      api_version: "2024-08-01-preview"
                      rpm: 600
                    model_info:
                      id: azure-eastus
                      input_cost_per_token: 0.0000025
                      output_cost_per_token: 0.00001
                  - model_name: llama
                    litellm_params:
                      model: groq/llama-3.1-8b-instant
                      api_base: {groq.ApiBase}
                      api_key: gsk-groq
                router_settings:
                  routing_strategy: simple-shuffle
                  num_retries: 0
                  allowed_fails: 100
                  model_group_alias: {"{"}gpt-4: gpt-4o{"}"}
                  fallbacks: [{"{"}gpt-4o: [llama]{"}"}]
                litellm_settings:
                  request_timeout: 30
                  drop_params: true
                general_settings:
                  master_key: sk-1234
                """);

            // The group spreads across both of its deployments (rpm weights are equal).
            for (var i = 0; i < 40; i++)
            {
                using var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o"), configure: m => m.Headers.Add("Authorization", "Bearer sk-1234"));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            }
            Assert.True(openai.Engine.RequestCount > 5, $"openai got {openai.Engine.RequestCount}");
            Assert.True(azure.Engine.RequestCount > 5, $"azure got {azure.Engine.RequestCount}");

            // Azure gets its deployment path, api-version and api-key header.
            var azureSeen = azure.Engine.LastRequest!;
            Assert.Equal("/openai/deployments/gpt4o-eastus/chat/completions", azureSeen.Path);
            Assert.Equal("?api-version=2024-08-01-preview", azureSeen.Query);
            Assert.Equal("azure-key", azureSeen.Headers["api-key"]);
            Assert.False(azureSeen.Headers.ContainsKey("authorization"));

            // The alias resolves; a failing group falls back to the configured fallback.
            openai.Fail("status=500", count: 1);
            azure.Fail("status=500", count: 1);
            using var fallback = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4"), configure: m => m.Headers.Add("Authorization", "Bearer sk-1234"));
            Assert.Equal(HttpStatusCode.OK, fallback.StatusCode);
            Assert.Equal("llama", fallback.Headers.GetValues("x-agw-model-group").Single());
            // A LiteLLM config gets LiteLLM's response headers too, so scripts reading them keep working.
            Assert.Equal("1", fallback.Headers.GetValues("x-litellm-attempted-fallbacks").Single());
            Assert.Equal("0", fallback.Headers.GetValues("x-litellm-attempted-retries").Single());
            Assert.Equal("llama", fallback.Headers.GetValues("x-litellm-model-group").Single());
            Assert.Contains("\"model\":\"llama-3.1-8b-instant\"", groq.Engine.LastRequest!.Body, StringComparison.Ordinal);
            Assert.Equal("Bearer gsk-groq", groq.Engine.LastRequest.Headers["authorization"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AGW_TEST_AZURE_KEY", null);
        }
    }
}
