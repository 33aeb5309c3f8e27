using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Guardrails.GuardrailTesting;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// The guardrails middleware on the LLM routes, end to end through the gateway and the emulator: every mode, masks the
/// provider and the client see, blocks in OpenAI's and Anthropic's shapes, output masked across stream chunks,
/// selection per key, team and request, dry run, and what the spend log and metrics record.
/// </summary>
[Trait("Category", "functional")]
public class GuardrailMiddlewareTests
{
    private const string Master = "sk-master-key-for-guardrail-tests";
    private static readonly string Config = $$"""
        master_key: {{Master}}
        models:
          - {name: gpt-4o, provider: mock}
        """;

    private static readonly GuardrailMode[] Pre = [GuardrailMode.PreCall];
    private static readonly GuardrailMode[] Post = [GuardrailMode.PostCall];

    private static Task<GatewayServer> StartAsync(Func<GatewayOptions, GatewayOptions> guards) =>
        GatewayServer.StartAsync(Config, services: Types, configure: guards);

    private static Task<HttpResponseMessage> PostAsync(GatewayServer g, string path, string json, string key = Master) =>
        g.PostJsonAsync(path, json, configure: r => r.Headers.Authorization = new("Bearer", key));

    /// <summary>A conversation that ends with a tool result: the emulator answers "Tool result: ..." quoting it, so the answer shows what the provider got.</summary>
    private static string ToolResultChat(string result, bool stream = false, string extra = "") =>
        "{\"model\":\"gpt-4o\",\"stream\":" + (stream ? "true" : "false") + ",\"messages\":["
        + "{\"role\":\"user\",\"content\":\"look it up\"},"
        + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},"
        + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":" + JsonSerializer.Serialize(result) + "}]" + extra + "}";

    private static string MockAnswer(string answer, bool stream = false, string extra = "") =>
        Chat.Request("gpt-4o", stream, "hello", $",\"mock_response\":{JsonSerializer.Serialize(answer)}{extra}");

    private static async Task<string> StreamedTextAsync(HttpResponseMessage response)
    {
        var sb = new StringBuilder();
        foreach (var data in await Sse.ReadEventsAsync(response))
        {
            if (data == "[DONE]") continue;
            using var chunk = JsonDocument.Parse(data);
            if (chunk.RootElement.TryGetProperty("choices", out var choices))
                foreach (var c in choices.EnumerateArray())
                    if (c.TryGetProperty("delta", out var d) && d.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String) sb.Append(content.GetString());
        }
        return sb.ToString();
    }

    /// <summary>The answer's text (JSON-decoded: the emulator escapes &lt; and &gt;).</summary>
    private static async Task<string> AnswerAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var body = JsonDocument.Parse(text);
        return body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    /// <summary>The data of each SSE event, whatever its event: line.</summary>
    private static async Task<List<string>> EventDataAsync(HttpResponseMessage response) =>
        (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('\n').FirstOrDefault(l => l.StartsWith("data:", StringComparison.Ordinal))?["data:".Length..].Trim())
            .OfType<string>().ToList();

    private static async Task<JsonElement> SpendLogAsync(GatewayServer g, HttpResponseMessage response)
    {
        await g.FlushSpendAsync();
        var (_, logs) = await g.AdminAsync("/spend/logs?request_id=" + response.Headers.GetValues("x-request-id").Single(), null, Master);
        return Assert.Single(logs.EnumerateArray().ToList());
    }

    [Fact]
    public async Task Pre_call_masks_what_the_provider_sees_and_says_which_guardrails_applied()
    {
        await using var g = await StartAsync(With(Guard("pii", Pre)));
        using var response = await PostAsync(g, "/v1/chat/completions", ToolResultChat("write to jane.doe@example.com today"));
        var text = await AnswerAsync(response);
        Assert.Equal("Tool result: write to <EMAIL_ADDRESS> today", text);
        Assert.DoesNotContain("jane.doe", text, StringComparison.Ordinal);
        Assert.Equal("pii", response.Headers.GetValues("x-litellm-applied-guardrails").Single());
        var log = await SpendLogAsync(g, response);
        var info = log.GetProperty("metadata").GetProperty("guardrail_information");
        var decision = Assert.Single(info.EnumerateArray().ToList());
        Assert.Equal("pii", decision.GetProperty("guardrail_name").GetString());
        Assert.Equal("pre_call", decision.GetProperty("guardrail_mode").GetString());
        Assert.Equal("guardrail_intervened", decision.GetProperty("guardrail_status").GetString());
        Assert.Equal("mask", decision.GetProperty("guardrail_action").GetString());
        Assert.Equal(1, decision.GetProperty("detections").GetProperty("EMAIL_ADDRESS").GetInt32());
        // The log records what was found, never the text.
        Assert.DoesNotContain("jane", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pre_call_blocks_in_openai_shape_and_in_anthropic_shape()
    {
        await using var g = await StartAsync(With(Guard("words", Pre)));
        using var openai = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "this is forbidden stuff"));
        Assert.Equal(HttpStatusCode.BadRequest, openai.StatusCode);
        using (var body = await GatewayServer.JsonAsync(openai))
        {
            var error = body.RootElement.GetProperty("error");
            Assert.Equal("guardrail_violation", error.GetProperty("code").GetString());
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Contains("words", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("forbidden stuff", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using var anthropic = await PostAsync(g, "/v1/messages", """{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"forbidden"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, anthropic.StatusCode);
        using var shaped = await GatewayServer.JsonAsync(anthropic);
        Assert.Equal("error", shaped.RootElement.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", shaped.RootElement.GetProperty("error").GetProperty("type").GetString());
        // A request with nothing to find goes through.
        using var fine = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "all good"));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    [Fact]
    public async Task Post_call_masks_a_json_answer_and_blocks_one_before_it_is_released()
    {
        await using var g = await StartAsync(With(Guard("out", Post)));
        using var masked = await PostAsync(g, "/v1/chat/completions", MockAnswer("reach me at jane.doe@example.com soon"));
        Assert.Equal(HttpStatusCode.OK, masked.StatusCode);
        using (var body = await GatewayServer.JsonAsync(masked))
            Assert.Equal("reach me at <EMAIL_ADDRESS> soon", body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        using var blocked = await PostAsync(g, "/v1/chat/completions", MockAnswer("that is forbidden here"));
        Assert.Equal(HttpStatusCode.BadRequest, blocked.StatusCode);
        var text = await blocked.Content.ReadAsStringAsync();
        Assert.Contains("guardrail_violation", text, StringComparison.Ordinal);
        Assert.DoesNotContain("forbidden here", text, StringComparison.Ordinal);
        // The blocked answer was made: it is charged, and its log says why it was refused.
        var log = await SpendLogAsync(g, blocked);
        Assert.Contains("guardrail_intervened", log.GetProperty("metadata").GetProperty("guardrail_information").ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_call_masks_an_email_split_across_stream_chunks()
    {
        await using var g = await StartAsync(With(Guard("out", Post)));
        const string answer = "write to jane.doe@example.com or to john@example.org, thanks";
        using var response = await PostAsync(g, "/v1/chat/completions", MockAnswer(answer, stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        // The emulator streams a word or a symbol an event: each address spanned several events.
        Assert.True(events.Count > 10, $"only {events.Count} events");
        var text = string.Concat(events.Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } c && c.GetArrayLength() > 0
            && c[0].GetProperty("delta").TryGetProperty("content", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : ""));
        Assert.Equal("write to <EMAIL_ADDRESS> or to <EMAIL_ADDRESS>, thanks", text);
        Assert.DoesNotContain("example", string.Join("", events), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_call_ends_a_stream_with_an_error_event_when_a_blocked_word_comes()
    {
        await using var g = await StartAsync(With(Guard("out", Post)));
        var answer = string.Join(' ', Enumerable.Repeat("fine", 100)) + " and then forbidden words follow";
        using var response = await PostAsync(g, "/v1/chat/completions", MockAnswer(answer, stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"code\":\"guardrail_violation\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("forbidden", body, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anthropic_stream_text_is_masked_across_content_block_deltas()
    {
        await using var g = await StartAsync(With(Guard("out", Post)));
        var request = """
            {"model":"gpt-4o","max_tokens":200,"stream":true,"messages":[
              {"role":"user","content":"look it up"},
              {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"lookup","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"mail jane.doe@example.com now"}]}]}
            """;
        using var response = await PostAsync(g, "/v1/messages", request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = new StringBuilder();
        foreach (var data in await EventDataAsync(response))
        {
            using var e = JsonDocument.Parse(data);
            if (e.RootElement.GetProperty("type").GetString() == "content_block_delta" && e.RootElement.GetProperty("delta").TryGetProperty("text", out var t)) text.Append(t.GetString());
        }
        Assert.Equal("Tool result: mail <EMAIL_ADDRESS> now", text.ToString());
    }

    [Fact]
    public async Task During_call_runs_beside_the_call_and_its_block_replaces_the_answer()
    {
        await using var g = await StartAsync(With(Guard("beside", [GuardrailMode.DuringCall])));
        using var blocked = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "forbidden"));
        Assert.Equal(HttpStatusCode.BadRequest, blocked.StatusCode);
        using var blockedStream = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", stream: true, content: "forbidden"));
        Assert.Equal(HttpStatusCode.BadRequest, blockedStream.StatusCode);
        using var fine = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "hello"));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        var log = await SpendLogAsync(g, fine);
        Assert.Contains("during_call", log.GetProperty("metadata").GetProperty("guardrail_information").ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logging_only_and_dry_run_record_what_they_would_do_and_change_nothing()
    {
        await using var g = await StartAsync(With(Guard("watch", [GuardrailMode.LoggingOnly]), Guard("trial", Pre, dryRun: true)));
        using var response = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com, forbidden"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("jane.doe@example.com", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var info = (await SpendLogAsync(g, response)).GetProperty("metadata").GetProperty("guardrail_information").EnumerateArray().ToList();
        var trial = info.Single(d => d.GetProperty("guardrail_name").GetString() == "trial");
        Assert.Equal("guardrail_flagged", trial.GetProperty("guardrail_status").GetString());
        Assert.Equal("block", trial.GetProperty("guardrail_action").GetString());
        Assert.True(trial.GetProperty("dry_run").GetBoolean());
        Assert.Contains(info, d => d.GetProperty("guardrail_name").GetString() == "watch" && d.GetProperty("guardrail_mode").GetString() == "logging_only");

        await using var global = await StartAsync(WithDryRun(Guard("pii", Pre)));
        using var unchanged = await PostAsync(global, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com"));
        Assert.Contains("jane.doe@example.com", await unchanged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Guardrails_that_are_not_default_on_run_where_a_key_team_or_request_names_them()
    {
        await using var g = await StartAsync(With(Guard("pii", Pre, defaultOn: false)));
        var plain = await g.GenerateKeyAsync("{}", Master);
        var keyed = await g.GenerateKeyAsync("""{"metadata": {"guardrails": ["pii"]}}""", Master);
        var (_, team) = await g.AdminAsync("/team/new", """{"team_alias": "careful", "metadata": {"guardrails": ["pii"]}}""", Master);
        var teamed = await g.GenerateKeyAsync($$"""{"team_id": "{{team.GetProperty("team_id").GetString()}}"}""", Master);

        async Task<bool> MaskedAsync(string key, string extra = "")
        {
            using var r = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com", extra: extra), key);
            return (await AnswerAsync(r)).Contains("<EMAIL_ADDRESS>", StringComparison.Ordinal);
        }

        Assert.False(await MaskedAsync(plain));
        Assert.True(await MaskedAsync(keyed));
        Assert.True(await MaskedAsync(teamed));
        Assert.True(await MaskedAsync(plain, ",\"guardrails\":[\"pii\"]"));
        Assert.True(await MaskedAsync(plain, ",\"guardrails\":{\"pii\":{\"extra_body\":{}}}"));
        Assert.True(await MaskedAsync(plain, ",\"metadata\":{\"guardrails\":{\"pii\":true}}"));
    }

    [Fact]
    public async Task A_request_turns_a_guardrail_off_only_with_an_explicit_grant_and_names_only_known_ones()
    {
        await using var g = await StartAsync(With(Guard("pii", Pre)));
        var free = await g.GenerateKeyAsync("{}", Master);
        var granted = await g.GenerateKeyAsync("""{"metadata": {"guardrails": {"modify_guardrails": true}}}""", Master);
        var (_, open) = await g.AdminAsync("/team/new", """{"team_alias": "open", "metadata": {"guardrails": {"modify_guardrails": true}}}""", Master);
        var teamGranted = await g.GenerateKeyAsync($$"""{"team_id": "{{open.GetProperty("team_id").GetString()}}"}""", Master);
        var (_, team) = await g.AdminAsync("/team/new", """{"team_alias": "locked", "metadata": {"guardrails": {"modify_guardrails": false}}}""", Master);
        var locked = await g.GenerateKeyAsync($$"""{"team_id": "{{team.GetProperty("team_id").GetString()}}"}""", Master);
        var lockedDespiteKey = await g.GenerateKeyAsync("{\"team_id\": \"" + team.GetProperty("team_id").GetString() + "\", \"metadata\": {\"guardrails\": {\"modify_guardrails\": true}}}", Master);
        const string off = ",\"metadata\":{\"guardrails\":{\"pii\":false}}";
        const string offTop = ",\"guardrails\":{\"pii\":false}";

        foreach (var key in new[] { granted, teamGranted, Master })
        {
            using var allowed = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com", extra: off), key);
            Assert.Contains("jane.doe@example.com", await allowed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A plain key cannot drop a default_on guardrail (either spelling); a team's false wins over its key's true.
        foreach (var (key, extra) in new[] { (free, off), (free, offTop), (locked, off), (lockedDespiteKey, off) })
        {
            using var refused = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com", extra: extra), key);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("does not have permission to modify guardrails", text, StringComparison.Ordinal);
            Assert.DoesNotContain("jane.doe@example.com", text, StringComparison.Ordinal);
        }

        // Turning more guardrails on needs no grant.
        using var more = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com", extra: ",\"guardrails\":[\"pii\"]"), free);
        Assert.Contains("<EMAIL_ADDRESS>", await AnswerAsync(more), StringComparison.Ordinal);

        using var unknown = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", extra: ",\"guardrails\":[\"nope\"]"), free);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("guardrail_not_found", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var malformed = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", extra: ",\"guardrails\":42"), free);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    public async Task Guardrails_list_and_metrics_show_the_guardrails_and_their_decisions()
    {
        await using var g = await StartAsync(With(Guard("pii", [GuardrailMode.PreCall, GuardrailMode.PostCall], info: """{"params":[{"name":"x","type":"float"}]}"""),
            Guard("words", Pre, defaultOn: false)));
        var (status, list) = await g.AdminAsync("/guardrails/list", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var guards = list.GetProperty("guardrails").EnumerateArray().ToList();
        Assert.Equal(["pii", "words"], guards.Select(x => x.GetProperty("guardrail_name").GetString()));
        Assert.Equal("float", guards[0].GetProperty("guardrail_info").GetProperty("params")[0].GetProperty("type").GetString());
        Assert.Equal(2, guards[0].GetProperty("litellm_params").GetProperty("mode").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, guards[1].GetProperty("guardrail_info").ValueKind);
        Assert.False(guards[1].GetProperty("litellm_params").GetProperty("default_on").GetBoolean());

        using var call = await PostAsync(g, "/v1/chat/completions", ToolResultChat("mail jane.doe@example.com"));
        Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        using var metricsRequest = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        metricsRequest.Headers.Authorization = new("Bearer", Master);
        using var metrics = await g.Client.SendAsync(metricsRequest);
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("agw_guardrail_decisions_total{", text, StringComparison.Ordinal);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("agw_guardrail_decisions_total{", StringComparison.Ordinal) && l.Contains("guardrail=\"pii\"", StringComparison.Ordinal)
            && l.Contains("mode=\"pre_call\"", StringComparison.Ordinal) && l.Contains("action=\"mask\"", StringComparison.Ordinal));
        Assert.True(line is not null, text);
    }
}
