using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Messages;
using AgenticGateway.Tests.Support;
using OpenAI;
using OpenAI.Chat;

namespace AgenticGateway.Tests.Passthrough;

/// <summary>
/// Providers' native APIs through the gateway (LiteLLM's /anthropic/*, /openai/*, /gemini/*, /cohere/*): the client's
/// virtual key is checked, counted and charged; the emulator answers only the provider key the gateway holds, so every
/// success proves the client's key was replaced; streams arrive as they are produced.
/// </summary>
[Trait("Category", "functional")]
public class ProviderPassthroughTests : IAsyncLifetime
{
    private const string Master = "sk-gateway-master";
    private const string ProviderKey = "sk-provider-secret";
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: ProviderKey);
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: claude, provider: anthropic, model: claude-sonnet-4-5, api_base: "{_upstream.Url}", api_key: {ProviderKey}{"}"}
              - {"{"}name: gpt, provider: openai, model: gpt-4o, api_base: "{_upstream.ApiBase}", api_key: {ProviderKey}{"}"}
              - {"{"}name: gemini, provider: gemini, model: gemini-2.5-flash, api_base: "{_upstream.Url}", api_key: {ProviderKey}{"}"}
              - {"{"}name: cohere, provider: cohere, model: command-r, api_base: "{_upstream.Url}", api_key: {ProviderKey}{"}"}
            guardrails:
              - guardrail_name: pii
                litellm_params:
                  guardrail: presidio
                  mode: pre_call
                  pii_entities_config: {"{"}EMAIL_ADDRESS: MASK{"}"}
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private Task<string> KeyAsync(string extra = "") => _gateway.GenerateKeyAsync("{" + extra + "}", Master);

    /// <summary>
    /// The key's spend logs. A stream is charged when it ends, just after its last bytes went out, so its log is waited
    /// for (up to 10 s); a JSON answer's is written before its last bytes, so it is there at once.
    /// </summary>
    private async Task<List<JsonElement>> SpendAsync(string key, bool waitForOne = false)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await _gateway.FlushSpendAsync();
            var (status, logs) = await _gateway.AdminAsync($"/spend/logs?api_key={key}", null, Master);
            Assert.Equal(HttpStatusCode.OK, status);
            var list = logs.EnumerateArray().ToList();
            if (!waitForOne || list.Count > 0 || DateTime.UtcNow > deadline) return list;
            await Task.Delay(20);
        }
    }

    private const string MessageBody = """{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"Hello there"}]}""";

    [Fact]
    public async Task An_anthropic_message_with_a_virtual_key_reaches_anthropic_with_the_gateways_key_and_is_charged()
    {
        var key = await KeyAsync();
        using var response = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r =>
        {
            r.Headers.Add("x-api-key", key);
            r.Headers.Add("anthropic-version", "2023-06-01");
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal("message", doc.RootElement.GetProperty("type").GetString());
        var input = doc.RootElement.GetProperty("usage").GetProperty("input_tokens").GetInt64();
        var output = doc.RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt64();

        var log = Assert.Single(await SpendAsync(key));
        Assert.Equal("claude-sonnet-4-5", log.GetProperty("model").GetString());
        Assert.Equal(input + output, log.GetProperty("total_tokens").GetInt64());
        Assert.True(log.GetProperty("spend").GetDecimal() > 0, "claude-sonnet-4-5 has a price");
        Assert.Equal(response.Headers.GetValues("x-request-id").Single(), log.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task A_key_with_guardrails_is_refused_on_the_passthrough_which_could_not_apply_them()
    {
        var guarded = await KeyAsync("\"metadata\": {\"guardrails\": [\"pii\"]}");
        using var response = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r => r.Headers.Add("x-api-key", guarded));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("cannot check", text);
        using var openAi = await _gateway.PostJsonAsync("/openai/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""",
            configure: r => r.Headers.Authorization = new("Bearer", guarded));
        Assert.Equal(HttpStatusCode.Forbidden, openAi.StatusCode);
        Assert.Contains("guardrails_not_applicable", await openAi.Content.ReadAsStringAsync());
        Assert.Empty(await SpendAsync(guarded));
    }

    [Fact]
    public async Task The_anthropic_sdk_streams_through_the_passthrough_as_the_events_are_produced()
    {
        var key = await KeyAsync();
        var client = new AnthropicClient(new ClientOptions { ApiKey = key, BaseUrl = _gateway.Url + "/anthropic", MaxRetries = 0 });
        var text = new StringBuilder();
        long output = 0;
        await foreach (var e in client.Messages.CreateStreaming(new MessageCreateParams
        {
            Model = "claude-sonnet-4-5",
            MaxTokens = 100,
            Messages = [new UserMessageParam("Tell me a story")],
        }))
        {
            if (e.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickText(out var t)) text.Append(t!.Text);
            else if (e.TryPickDelta(out var md)) output = md!.Usage.OutputTokens;
        }
        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        var log = Assert.Single(await SpendAsync(key, waitForOne: true));
        Assert.Equal(output, log.GetProperty("completion_tokens").GetInt64());
        Assert.True(log.GetProperty("prompt_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task A_slow_stream_is_relayed_event_by_event_not_buffered()
    {
        var key = await KeyAsync();
        var body = """{"model":"claude-sonnet-4-5","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"Tell me a long story"}]}""";
        var clock = Stopwatch.StartNew();
        using var response = await _gateway.PostJsonAsync("/anthropic/v1/messages", body, configure: r =>
        {
            r.Headers.Add("x-api-key", key);
            // The emulator produces 10 tokens a second: the answer takes seconds to finish.
            r.Headers.Add("x-mock-tokens-per-second", "10");
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        TimeSpan? firstDelta = null;
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
            if (firstDelta is null && line.Contains("content_block_delta", StringComparison.Ordinal)) firstDelta = clock.Elapsed;
        var end = clock.Elapsed;
        Assert.NotNull(firstDelta);
        Assert.True(end - firstDelta > TimeSpan.FromMilliseconds(500), $"the first text arrived at {firstDelta}, the end at {end}: the stream was held back");
        var log = Assert.Single(await SpendAsync(key, waitForOne: true));
        Assert.True(log.GetProperty("completion_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task Without_a_key_or_with_a_wrong_one_the_call_is_refused_in_anthropics_shape_and_never_sent()
    {
        using var none = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        using var doc = JsonDocument.Parse(await none.Content.ReadAsStringAsync());
        Assert.Equal("error", doc.RootElement.GetProperty("type").GetString());
        Assert.Equal("authentication_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());

        using var wrong = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r => r.Headers.Add("x-api-key", "sk-not-a-key"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_budget_is_refused_before_the_provider_is_called()
    {
        var key = await KeyAsync("\"max_budget\": 0.0000001");
        using var first = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r => r.Headers.Add("x-litellm-api-key", key));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await first.Content.ReadAsStringAsync();
        using var second = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r => r.Headers.Add("x-litellm-api-key", key));
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.Contains("Budget exceeded", await second.Content.ReadAsStringAsync());
        Assert.Single(await SpendAsync(key));
    }

    [Fact]
    public async Task A_key_over_its_rpm_is_refused_with_429()
    {
        var key = await KeyAsync("\"rpm_limit\": 1");
        using var first = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r => r.Headers.Add("x-api-key", key));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var second = await _gateway.PostJsonAsync("/anthropic/v1/messages", MessageBody, configure: r => r.Headers.Add("x-api-key", key));
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
    }

    [Fact]
    public async Task The_openai_sdk_pointed_at_the_openai_prefix_streams_and_is_charged()
    {
        var key = await KeyAsync();
        var client = new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.Url + "/openai"), NetworkTimeout = TimeSpan.FromSeconds(30) });
        var chat = client.GetChatClient("gpt-4o");
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("hello there")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
        }
        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        Assert.NotNull(usage);
        var log = Assert.Single(await SpendAsync(key, waitForOne: true));
        Assert.Equal("gpt-4o", log.GetProperty("model").GetString());
        Assert.Equal(usage!.TotalTokenCount, log.GetProperty("total_tokens").GetInt64());
        Assert.True(log.GetProperty("spend").GetDecimal() > 0);
    }

    [Fact]
    public async Task Gemini_takes_the_gateway_key_as_googles_sdks_send_it_and_is_charged_by_usage_metadata()
    {
        var key = await KeyAsync();
        var body = """{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}""";
        using var response = await _gateway.PostJsonAsync($"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={key}", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var doc = JsonDocument.Parse(text);
        var total = doc.RootElement.GetProperty("usageMetadata").GetProperty("totalTokenCount").GetInt64();
        var log = Assert.Single(await SpendAsync(key));
        Assert.Equal("gemini-2.5-flash", log.GetProperty("model").GetString());
        Assert.Equal(total, log.GetProperty("total_tokens").GetInt64());

        using var header = await _gateway.PostJsonAsync("/gemini/v1beta/models/gemini-2.5-flash:generateContent", body, configure: r => r.Headers.Add("x-goog-api-key", key));
        Assert.Equal(HttpStatusCode.OK, header.StatusCode);
    }

    [Fact]
    public async Task Cohere_chat_passes_through_with_the_gateways_bearer_key()
    {
        var key = await KeyAsync();
        using var response = await _gateway.PostJsonAsync("/cohere/v2/chat", """{"model":"command-r","messages":[{"role":"user","content":"hello"}]}""",
            configure: r => r.Headers.Authorization = new("Bearer", key));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var log = Assert.Single(await SpendAsync(key));
        Assert.True(log.GetProperty("total_tokens").GetInt64() > 0);
    }
}
