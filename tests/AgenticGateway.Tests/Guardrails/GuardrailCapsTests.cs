using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Guardrails;

/// <summary>
/// Size and token caps: LiteLLM's general_settings.max_request_size_mb and max_response_size_mb, and our per-key and
/// per-team max_input_tokens / max_output_tokens in metadata; and LiteLLM's POST /guardrails/apply_guardrail.
/// </summary>
[Trait("Category", "functional")]
public class GuardrailCapsTests
{
    private const string Master = "sk-master-key-for-guardrail-caps";

    private static Task<GatewayServer> StartAsync(string settings = "", string guardrails = "") => GatewayServer.StartAsync($$"""
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: mock/gpt-4o}
        general_settings:
          master_key: {{Master}}
          {{settings}}
        {{guardrails}}
        """, "litellm.yaml");

    private static Task<HttpResponseMessage> PostAsync(GatewayServer g, string path, string json, string key = Master) =>
        g.PostJsonAsync(path, json, configure: r =>
        {
            r.Headers.Authorization = new("Bearer", key);
            r.Headers.Add("anthropic-version", "2023-06-01");
        });

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("error").Clone();
    }

    [Fact]
    public async Task Max_request_size_mb_refuses_a_larger_body_with_413()
    {
        await using var g = await StartAsync("max_request_size_mb: 0.0001");
        using var small = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "hi"));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        using var large = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: new string('x', 400)));
        var error = await ErrorAsync(large, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("104 bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Max_response_size_mb_refuses_a_larger_answer()
    {
        await using var g = await StartAsync("max_response_size_mb: 0.002");
        using var small = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", extra: ",\"mock_response\":\"ok\""));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        using var large = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", extra: $",\"mock_response\":\"{new string('y', 4000)}\""));
        var error = await ErrorAsync(large, HttpStatusCode.BadGateway);
        Assert.Contains("max_response_size_mb", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_with_max_input_tokens_is_refused_a_longer_prompt_in_its_api_shape()
    {
        await using var g = await StartAsync();
        var key = await g.GenerateKeyAsync("""{"metadata":{"max_input_tokens":20}}""", Master);
        using var shortPrompt = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: "hi"), key);
        Assert.Equal(HttpStatusCode.OK, shortPrompt.StatusCode);
        var longText = string.Join(' ', Enumerable.Repeat("word", 200));
        using var chat = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", content: longText), key);
        var error = await ErrorAsync(chat, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("input_tokens_exceeded", error.GetProperty("code").GetString());
        // Anthropic's Messages API gets Anthropic's error shape.
        using var messages = await PostAsync(g, "/v1/messages",
            $$"""{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"{{longText}}"}]}""", key);
        var text = await messages.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, messages.StatusCode);
        Assert.Equal("error", JsonDocument.Parse(text).RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_team_max_output_tokens_refuses_a_larger_ask_and_caps_a_request_without_one()
    {
        await using var g = await StartAsync();
        var (status, team) = await g.AdminAsync("/team/new", """{"team_alias":"capped","metadata":{"max_output_tokens":50}}""", Master);
        Assert.True(status == HttpStatusCode.OK, team.ToString());
        var key = await g.GenerateKeyAsync($$"""{"team_id":"{{team.GetProperty("team_id").GetString()}}"}""", Master);
        using var over = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", extra: ",\"max_tokens\":100"), key);
        var error = await ErrorAsync(over, HttpStatusCode.BadRequest);
        Assert.Equal("output_tokens_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
        using var within = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o", extra: ",\"max_tokens\":20"), key);
        Assert.Equal(HttpStatusCode.OK, within.StatusCode);
        using var unset = await PostAsync(g, "/v1/chat/completions", Chat.Request("gpt-4o"), key);
        Assert.Equal(HttpStatusCode.OK, unset.StatusCode);
        using var responses = await PostAsync(g, "/v1/responses", """{"model":"gpt-4o","input":"hi","max_output_tokens":500}""", key);
        Assert.Equal("max_output_tokens", (await ErrorAsync(responses, HttpStatusCode.BadRequest)).GetProperty("param").GetString());
    }

    private const string PresidioGuardrails = """
        guardrails:
          - guardrail_name: "mask_pii"
            litellm_params:
              guardrail: presidio
              mode: "pre_call"
              pii_entities_config: {EMAIL_ADDRESS: MASK, CREDIT_CARD: BLOCK}
        """;

    [Fact]
    public async Task Apply_guardrail_answers_the_text_as_the_guardrail_leaves_it()
    {
        await using var g = await StartAsync(guardrails: PresidioGuardrails);
        using var masked = await PostAsync(g, "/guardrails/apply_guardrail",
            """{"guardrail_name":"mask_pii","text":"My name is John and my email is john@example.com","language":"en","entities":["EMAIL_ADDRESS"]}""");
        var body = await masked.Content.ReadAsStringAsync();
        Assert.True(masked.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("My name is John and my email is <EMAIL_ADDRESS>", JsonDocument.Parse(body).RootElement.GetProperty("response_text").GetString());

        using var blocked = await PostAsync(g, "/guardrails/apply_guardrail", """{"guardrail_name":"mask_pii","text":"card 4111 1111 1111 1111"}""");
        var error = await ErrorAsync(blocked, HttpStatusCode.BadRequest);
        Assert.Contains("mask_pii", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("4111", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        using var unknown = await PostAsync(g, "/guardrails/apply_guardrail", """{"guardrail_name":"nope","text":"x"}""");
        Assert.Equal("guardrail_not_found", (await ErrorAsync(unknown, HttpStatusCode.NotFound)).GetProperty("code").GetString());
        using var noText = await PostAsync(g, "/guardrails/apply_guardrail", """{"guardrail_name":"mask_pii"}""");
        Assert.Equal("text", (await ErrorAsync(noText, HttpStatusCode.BadRequest)).GetProperty("param").GetString());
    }

    [Fact]
    public async Task Apply_guardrail_is_scoped_to_what_the_callers_team_may_use()
    {
        await using var g = await StartAsync(guardrails: PresidioGuardrails);
        var (status, team) = await g.AdminAsync("/team/new", """{"team_alias":"locked","metadata":{"guardrails":{"modify_guardrails":false}}}""", Master);
        Assert.True(status == HttpStatusCode.OK, team.ToString());
        var locked = await g.GenerateKeyAsync($$"""{"team_id":"{{team.GetProperty("team_id").GetString()}}"}""", Master);
        using var refused = await PostAsync(g, "/guardrails/apply_guardrail", """{"guardrail_name":"mask_pii","text":"a@b.example"}""", locked);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        var open = await g.GenerateKeyAsync("{}", Master);
        using var allowed = await PostAsync(g, "/guardrails/apply_guardrail", """{"guardrail_name":"mask_pii","text":"a@b.example"}""", open);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var anonymous = await g.PostJsonAsync("/guardrails/apply_guardrail", """{"guardrail_name":"mask_pii","text":"x"}""");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}
