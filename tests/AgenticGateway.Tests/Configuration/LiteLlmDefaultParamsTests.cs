using System.Net;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// Request parameters set on a deployment (LiteLLM's litellm_params.temperature, max_tokens, ...; aliases_config.yaml
/// sets them) reach the provider when the client did not send them; the client's own value wins, as LiteLLM's router
/// builds the call as {**litellm_params, **request}.
/// </summary>
[Trait("Category", "functional")]
public class LiteLlmDefaultParamsTests
{
    private static async Task<JsonElement> SentAsync(EmulatorServer upstream, GatewayServer gw, string extra)
    {
        using var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-3.5-turbo", extra: extra));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return JsonDocument.Parse(upstream.Engine.LastRequest!.Body).RootElement.Clone();
    }

    [Fact]
    public async Task Configured_parameters_fill_in_what_the_client_left_out_and_the_clients_own_win()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        // The deployment of LiteLLM's aliases_config.yaml, pointed at the emulator.
        await using var gw = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt-3.5-turbo
                litellm_params:
                    model: openai/llama2
                    api_base: {upstream.ApiBase}
                    temperature: 0.1
                    max_tokens: 20
                    stop: ["\n\n"]
                    response_format: {"{"}type: json_object{"}"}
            """);

        var sent = await SentAsync(upstream, gw, "");
        Assert.Equal(0.1, sent.GetProperty("temperature").GetDouble());
        Assert.Equal(20, sent.GetProperty("max_tokens").GetInt32());
        Assert.Equal("\n\n", sent.GetProperty("stop")[0].GetString());
        Assert.Equal("json_object", sent.GetProperty("response_format").GetProperty("type").GetString());

        sent = await SentAsync(upstream, gw, ",\"temperature\":0.9,\"max_completion_tokens\":5");
        Assert.Equal(0.9, sent.GetProperty("temperature").GetDouble());
        // The client's max_completion_tokens stands for max_tokens: the provider does not get both.
        Assert.False(sent.TryGetProperty("max_tokens", out _));
        Assert.Equal(5, sent.GetProperty("max_completion_tokens").GetInt32());
        Assert.Single(sent.EnumerateObject(), p => p.Name == "temperature");
    }

    [Fact]
    public async Task Configured_parameters_reach_a_stream_and_a_translated_provider()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: gpt-3.5-turbo
                litellm_params: {"{"}model: openai/gpt-4o-mini, api_base: "{upstream.ApiBase}", temperature: 0.25, seed: 7{"}"}
            """);
        using var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-3.5-turbo", stream: true));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await r.Content.ReadAsStringAsync();
        var sent = JsonDocument.Parse(upstream.Engine.LastRequest!.Body).RootElement;
        Assert.Equal(0.25, sent.GetProperty("temperature").GetDouble());
        Assert.Equal(7, sent.GetProperty("seed").GetInt32());
        Assert.True(sent.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task A_configured_max_tokens_bounds_what_a_budget_reserves_when_the_client_sets_none()
    {
        await using var g = await GatewayServer.StartAsync("""
            model_list:
              - model_name: short
                litellm_params: {model: mock/gpt-4o, max_tokens: 20}
            """);
        var runtime = g.Services.GetRequiredService<RuntimeHolder>().Current;
        Assert.True(runtime.Catalog.TryResolve("short", out var group));
        long Reserved(string extra)
        {
            var body = System.Text.Encoding.UTF8.GetBytes(Chat.Request("short", extra: extra));
            Assert.Null(RequestReader.TryParse(body, LlmOperation.ChatCompletions, out var parsed));
            var caller = new Caller(false, new KeyIdentity(new VirtualKey { Token = "t", KeyName = "k", Limits = new LimitSettings { MaxBudget = 10 } }, null, null));
            return Reservation.For(runtime, caller, group, parsed, LlmOperation.ChatCompletions, 10).Tokens - 10;
        }
        Assert.Equal(20, Reserved(""));
        Assert.Equal(300, Reserved(",\"max_tokens\":300"));
    }
}
