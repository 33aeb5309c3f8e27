using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// LiteLLM config files with guardrails, served end to end: the documented presidio, content filter and hide-secrets
/// setups on requests and streamed answers, enable_json_schema_validation, guardrails set on keys through /key/generate
/// as LiteLLM documents it, and the Responses API's streamed text.
/// </summary>
[Trait("Category", "functional")]
public class LiteLlmGuardrailEndToEndTests
{
    private const string Master = "sk-master-key-for-litellm-guardrails";

    private static Task<GatewayServer> StartAsync(string guardrails, string settings = "") => GatewayServer.StartAsync($$"""
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: mock/gpt-4o}
        general_settings:
          master_key: {{Master}}
        {{settings}}
        {{guardrails}}
        """, "litellm.yaml");

    private static Task<HttpResponseMessage> PostAsync(GatewayServer g, string path, string json, string key = Master) =>
        g.PostJsonAsync(path, json, configure: r => r.Headers.Authorization = new("Bearer", key));

    private static string MockAnswer(string answer, bool stream = false, string extra = "") =>
        Chat.Request("gpt-4o", stream, "hello", $",\"mock_response\":{JsonSerializer.Serialize(answer)}{extra}");

    private static string ToolResultChat(string result) =>
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"look it up\"},"
        + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},"
        + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":" + JsonSerializer.Serialize(result) + "}]}";

    private static async Task<string> ContentAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var body = JsonDocument.Parse(text);
        return body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    private static async Task<string> StreamedChatTextAsync(HttpResponseMessage response)
    {
        var sb = new StringBuilder();
        foreach (var data in await Sse.ReadEventsAsync(response))
        {
            if (data == "[DONE]") continue;
            using var chunk = JsonDocument.Parse(data);
            foreach (var c in chunk.RootElement.GetProperty("choices").EnumerateArray())
                if (c.TryGetProperty("delta", out var d) && d.TryGetProperty("content", out var t) && t.ValueKind == JsonValueKind.String) sb.Append(t.GetString());
        }
        return sb.ToString();
    }

    [Fact]
    public async Task Presidio_masks_the_request_the_provider_gets_and_blocks_what_its_config_says()
    {
        await using var g = await StartAsync("""
            guardrails:
              - guardrail_name: "presidio-pre-guard"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_call"
                  default_on: true
                  pii_entities_config:
                    EMAIL_ADDRESS: "MASK"
                    CREDIT_CARD: "BLOCK"
            """);
        using var masked = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail ishaan@berri.ai please"));
        Assert.Equal("Tool result: mail <EMAIL_ADDRESS> please", await ContentAsync(masked));
        using var blocked = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "my card is 4111 1111 1111 1111"));
        Assert.Equal(HttpStatusCode.BadRequest, blocked.StatusCode);
        var error = await blocked.Content.ReadAsStringAsync();
        Assert.Contains("presidio-pre-guard", error, StringComparison.Ordinal);
        Assert.DoesNotContain("4111", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Content_filter_masks_a_streamed_answer_across_chunks_with_its_redaction_tag()
    {
        await using var g = await StartAsync("""
            guardrails:
              - guardrail_name: "content-filter-post"
                litellm_params:
                  guardrail: litellm_content_filter
                  mode: "post_call"
                  default_on: true
                  patterns:
                    - pattern_type: "prebuilt"
                      pattern_name: "email"
                      action: "MASK"
            """);
        using var response = await PostAsync(g, "/v1/chat/completions", MockAnswer("write to jane.doe@example.com today", stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await StreamedChatTextAsync(response);
        Assert.Equal("write to [EMAIL_REDACTED] today", text);
    }

    [Fact]
    public async Task Hide_secrets_redacts_a_key_in_a_json_answer()
    {
        await using var g = await StartAsync("""
            guardrails:
              - guardrail_name: "hide-secrets"
                litellm_params:
                  guardrail: "hide-secrets"
                  mode: "post_call"
                  default_on: true
            """);
        const string secret = "AKIAIOSFODNN7EXAMPLE";
        using var response = await PostAsync(g, "/v1/chat/completions", MockAnswer($"the key is {secret} ok"));
        var content = await ContentAsync(response);
        Assert.DoesNotContain(secret, content, StringComparison.Ordinal);
        Assert.Contains("[REDACTED]", content, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Guardrails_given_to_key_generate_run_for_that_key_only()
    {
        await using var g = await StartAsync("""
            guardrails:
              - guardrail_name: "pii"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_call"
                  pii_entities_config: {EMAIL_ADDRESS: MASK}
            """);
        var guarded = await g.GenerateKeyAsync("""{"guardrails": ["pii"]}""", Master);
        var plain = await g.GenerateKeyAsync("{}", Master);
        Assert.Equal("Tool result: mail <EMAIL_ADDRESS>", await ContentAsync(await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail ishaan@berri.ai"), guarded)));
        Assert.Equal("Tool result: mail ishaan@berri.ai", await ContentAsync(await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail ishaan@berri.ai"), plain)));
        var (_, info) = await g.AdminAsync("/key/info?key=" + guarded, null, Master);
        Assert.Equal("pii", info.GetProperty("info").GetProperty("metadata").GetProperty("guardrails")[0].GetString());
    }

    [Fact]
    public async Task Json_schema_validation_refuses_an_answer_that_does_not_match_the_schema()
    {
        await using var g = await StartAsync("", "litellm_settings:\n  enable_json_schema_validation: true");
        const string format = ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}}}";
        using var bad = await PostAsync(g, "/v1/chat/completions", MockAnswer("{\"n\":\"seven\"}", extra: format));
        Assert.Equal(HttpStatusCode.BadGateway, bad.StatusCode);
        Assert.Contains("json_schema_validation_failed", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var good = await PostAsync(g, "/v1/chat/completions", MockAnswer("{\"n\":7}", extra: format));
        Assert.Equal("{\"n\":7}", await ContentAsync(good));
    }

    [Fact]
    public async Task Responses_stream_text_is_masked_in_deltas_and_in_the_done_events()
    {
        await using var g = await StartAsync("""
            guardrails:
              - guardrail_name: "pii-out"
                litellm_params:
                  guardrail: presidio
                  mode: "post_call"
                  default_on: true
                  pii_entities_config: {EMAIL_ADDRESS: MASK}
            """);
        using var response = await PostAsync(g, "/v1/responses",
            """{"model":"gpt-4o","stream":true,"input":"hello","mock_response":"mail jane.doe@example.com now"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("jane.doe", body, StringComparison.Ordinal);
        var deltas = new StringBuilder();
        string? done = null;
        var sequence = new List<long>();
        foreach (var e in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var data = e.Split('\n').FirstOrDefault(l => l.StartsWith("data:", StringComparison.Ordinal))?[5..].Trim();
            if (data is null) continue;
            using var evt = JsonDocument.Parse(data);
            var type = evt.RootElement.GetProperty("type").GetString();
            if (evt.RootElement.TryGetProperty("sequence_number", out var n)) sequence.Add(n.GetInt64());
            if (type == "response.output_text.delta") deltas.Append(evt.RootElement.GetProperty("delta").GetString());
            if (type == "response.output_text.done") done = evt.RootElement.GetProperty("text").GetString();
        }
        Assert.Equal("mail <EMAIL_ADDRESS> now", deltas.ToString());
        Assert.Equal("mail <EMAIL_ADDRESS> now", done);
        // Events the guardrail added are numbered in order with the rest.
        Assert.Equal(Enumerable.Range((int)sequence[0], sequence.Count).Select(i => (long)i), sequence);
    }
}
