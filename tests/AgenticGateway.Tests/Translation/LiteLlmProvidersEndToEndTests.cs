using System.ClientModel;
using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using OpenAI;
using OpenAI.Chat;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// The providers LiteLLM configs name that the gateway used to reject, end to end from a LiteLLM config: Cohere chat
/// and embeddings (cohere/, cohere_chat/), a legacy completions model (text-completion-openai/), and /rerank to Cohere,
/// Jina AI and vLLM, each through the pipeline (auth, key model access, spend) against the emulator speaking the
/// provider's wire format.
/// </summary>
[Trait("Category", "functional")]
public class LiteLlmProvidersEndToEndTests : IAsyncLifetime
{
    private const string Key = "provider-key";
    private const string Master = "sk-1234";
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: Key);
        var url = _upstream.Url;
        // Entries in the shapes of LiteLLM's own files (otel_test_config.yaml's rerank-english-v3.0, proxy_server_config.yaml's
        // gpt-instruct) and of its rerank and provider docs, pointed at the emulator.
        _gateway = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: command-r
                litellm_params:
                  model: cohere/command-r
                  api_base: {url}
                  api_key: {Key}
              - model_name: command-r-plus
                litellm_params:
                  model: cohere_chat/v2/command-r-plus
                  api_base: {url}/v2/chat
                  api_key: {Key}
              - model_name: cohere-embed
                litellm_params:
                  model: cohere/embed-english-v3.0
                  api_base: {url}
                  api_key: {Key}
              - model_name: rerank-english-v3.0
                litellm_params:
                  model: cohere/rerank-english-v3.0
                  api_base: {url}
                  api_key: {Key}
                  input_cost_per_query: 0.002
              - model_name: jina-rerank
                litellm_params:
                  model: jina_ai/jina-reranker-v2-base-multilingual
                  api_base: {url}/v1
                  api_key: {Key}
                  input_cost_per_token: 0.000000018
              - model_name: vllm-rerank
                litellm_params:
                  model: hosted_vllm/BAAI/bge-reranker-base
                  api_base: {url}
                  api_key: {Key}
              - model_name: gpt-instruct
                litellm_params:
                  model: text-completion-openai/gpt-3.5-turbo-instruct
                  api_base: {url}/v1
                  api_key: {Key}
              - model_name: gpt-4o
                litellm_params:
                  model: openai/gpt-4o
                  api_base: {url}/v1
                  api_key: {Key}
            router_settings:
              num_retries: 0
            general_settings:
              master_key: {Master}
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string path, string json, string key = Master)
    {
        var response = await _gateway.PostJsonAsync(path, json, configure: r => r.Headers.Authorization = new("Bearer", key));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    private const string Documents = """["Carson City is the capital city of the American state of Nevada.","The Commonwealth of the Northern Mariana Islands is a group of islands in the Pacific Ocean. Its capital is Saipan.","Washington, D.C. is the capital of the United States.","Capital punishment has existed in the United States since before it was a country."]""";

    [Theory]
    [InlineData("command-r")]
    [InlineData("command-r-plus")]
    public async Task Cohere_chat_answers_in_openai_format_over_cohere_v2(string model)
    {
        var (status, body, response) = await PostAsync("/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}],"max_tokens":50,"top_p":0.9,"stop":["\n\n"]}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.False(string.IsNullOrWhiteSpace(choice.GetProperty("message").GetProperty("content").GetString()));
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.True(body.GetProperty("usage").GetProperty("completion_tokens").GetInt64() > 0);
        Assert.Equal("/v2/chat", _upstream.Engine.LastRequest!.Path);
        using var sent = JsonDocument.Parse(_upstream.Engine.LastRequest.Body);
        Assert.Equal(model == "command-r" ? "command-r" : "command-r-plus", sent.RootElement.GetProperty("model").GetString());
        Assert.Equal(0.9, sent.RootElement.GetProperty("p").GetDouble());
        Assert.Equal("Bearer " + Key, _upstream.Engine.LastRequest.Headers["authorization"]);
        Assert.True(response.Headers.Contains("x-agw-response-cost"));
    }

    [Fact]
    public async Task Cohere_streams_with_tool_calls_in_openai_chunks()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions",
            """{"model":"command-r","messages":[{"role":"user","content":"Weather in Paris?"}],"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}""",
            configure: r => r.Headers.Authorization = new("Bearer", Master));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
        var arguments = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .Select(d => d.GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString()));
        using (var parsed = JsonDocument.Parse(arguments)) Assert.True(parsed.RootElement.TryGetProperty("city", out _));
        Assert.Contains(chunks, c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String
            && c.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "tool_calls");
        Assert.True(chunks[^1].GetProperty("usage").GetProperty("prompt_tokens").GetInt64() > 0);
    }

    [Theory]
    [InlineData("float")]
    [InlineData("base64")]
    public async Task Cohere_embeddings_come_back_as_an_openai_list(string format)
    {
        var (status, body, _) = await PostAsync("/v1/embeddings", $$"""{"model":"cohere-embed","input":["hello","goodbye"],"encoding_format":"{{format}}"}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var data = body.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        if (format == "base64") Assert.Equal(1024 * 4, Convert.FromBase64String(data[0].GetProperty("embedding").GetString()!).Length);
        else Assert.Equal(1024, data[0].GetProperty("embedding").GetArrayLength());
        Assert.True(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64() > 0);
        using var sent = JsonDocument.Parse(_upstream.Engine.LastRequest!.Body);
        Assert.Equal("search_document", sent.RootElement.GetProperty("input_type").GetString());
    }

    [Fact]
    public async Task A_chat_request_to_a_legacy_completions_model_is_a_prompt_upstream_and_a_chat_answer_back()
    {
        var (status, body, _) = await PostAsync("/v1/chat/completions", """{"model":"gpt-instruct","messages":[{"role":"user","content":"Say this is a test"}],"max_tokens":7}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()));
        Assert.Equal("/v1/completions", _upstream.Engine.LastRequest!.Path);
        using var sent = JsonDocument.Parse(_upstream.Engine.LastRequest.Body);
        Assert.Equal("Say this is a test", sent.RootElement.GetProperty("prompt").GetString());
        Assert.Equal("gpt-3.5-turbo-instruct", sent.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public async Task A_legacy_completions_model_streams_chat_chunks_through_the_openai_sdk()
    {
        var client = new OpenAIClient(new ApiKeyCredential(Master), new OpenAIClientOptions { Endpoint = new Uri(_gateway.Url + "/v1") });
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.GetChatClient("gpt-instruct").CompleteChatStreamingAsync([new UserChatMessage("Tell me a story")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        Assert.NotNull(finish);
        ChatCompletion whole = await client.GetChatClient("command-r").CompleteChatAsync([new UserChatMessage("Hello")]);
        Assert.False(string.IsNullOrWhiteSpace(whole.Content[0].Text));
    }

    [Fact]
    public async Task Legacy_completions_pass_through_to_the_completions_model_unchanged()
    {
        var (status, body, _) = await PostAsync("/v1/completions", """{"model":"gpt-instruct","prompt":"Say this is a test","max_tokens":7,"echo":false}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        using var sent = JsonDocument.Parse(_upstream.Engine.LastRequest!.Body);
        Assert.Equal("gpt-3.5-turbo-instruct", sent.RootElement.GetProperty("model").GetString());
        Assert.False(sent.RootElement.GetProperty("echo").GetBoolean());
    }

    [Theory]
    [InlineData("/v1/rerank", "rerank-english-v3.0", "/v2/rerank")]
    [InlineData("/rerank", "rerank-english-v3.0", "/v2/rerank")]
    [InlineData("/v2/rerank", "jina-rerank", "/v1/rerank")]
    [InlineData("/v1/rerank", "vllm-rerank", "/rerank")]
    public async Task Rerank_answers_in_litellm_shape_from_each_provider(string route, string model, string upstreamPath)
    {
        var (status, body, _) = await PostAsync(route, $$"""{"model":"{{model}}","query":"What is the capital of the United States?","documents":{{Documents}},"top_n":3,"return_documents":true}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(upstreamPath, _upstream.Engine.LastRequest!.Path);
        var results = body.GetProperty("results");
        Assert.Equal(3, results.GetArrayLength());
        Assert.Equal(2, results[0].GetProperty("index").GetInt32());
        Assert.Equal("Washington, D.C. is the capital of the United States.", results[0].GetProperty("document").GetProperty("text").GetString());
        Assert.True(results[0].GetProperty("relevance_score").GetDouble() >= results[1].GetProperty("relevance_score").GetDouble());
        Assert.True(body.TryGetProperty("meta", out var meta) && meta.TryGetProperty("billed_units", out _));
    }

    [Fact]
    public async Task Rerank_is_priced_per_search_unit_and_per_token_and_logged_as_rerank()
    {
        var token = await _gateway.GenerateKeyAsync("""{"models":["rerank-english-v3.0","jina-rerank"],"max_budget":10}""", Master);
        var (status, body, response) = await PostAsync("/v1/rerank", $$"""{"model":"rerank-english-v3.0","query":"capital","documents":{{Documents}}}""", token);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.False(body.GetProperty("results")[0].TryGetProperty("document", out _));
        Assert.Equal("0.002", response.Headers.GetValues("x-agw-response-cost").Single());

        var (jinaStatus, jina, jinaResponse) = await PostAsync("/rerank", $$"""{"model":"jina-rerank","query":"capital","documents":{{Documents}}}""", token);
        Assert.True(jinaStatus == HttpStatusCode.OK, jina.ToString());
        var tokens = jina.GetProperty("meta").GetProperty("billed_units").GetProperty("total_tokens").GetInt64();
        Assert.True(tokens > 0);
        Assert.Equal((tokens * 0.000000018m).ToString("0.##########", System.Globalization.CultureInfo.InvariantCulture), jinaResponse.Headers.GetValues("x-agw-response-cost").Single());

        await _gateway.FlushSpendAsync();
        var (_, logs) = await _gateway.AdminAsync($"/spend/logs?api_key={Uri.EscapeDataString(token)}", null, Master);
        var rerankLogs = logs.EnumerateArray().Where(l => l.GetProperty("call_type").GetString() == "rerank").ToList();
        Assert.Equal(2, rerankLogs.Count);
    }

    [Fact]
    public async Task Rerank_goes_through_key_model_access_and_refuses_what_no_provider_can_answer()
    {
        var token = await _gateway.GenerateKeyAsync("""{"models":["command-r"]}""", Master);
        var (forbidden, refusal, _) = await PostAsync("/v1/rerank", $$"""{"model":"rerank-english-v3.0","query":"q","documents":["a"]}""", token);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        Assert.Equal("model_not_allowed", refusal.GetProperty("error").GetProperty("code").GetString());

        var (noRerank, error, _) = await PostAsync("/v1/rerank", """{"model":"gpt-4o","query":"q","documents":["a"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, noRerank);
        Assert.Equal("rerank_not_supported", error.GetProperty("error").GetProperty("code").GetString());

        var (missing, missingError, _) = await PostAsync("/v1/rerank", """{"model":"rerank-english-v3.0","documents":["a"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Equal("query", missingError.GetProperty("error").GetProperty("param").GetString());

        var (stream, _, _) = await PostAsync("/v1/rerank", """{"model":"rerank-english-v3.0","query":"q","documents":["a"],"stream":true}""");
        Assert.Equal(HttpStatusCode.BadRequest, stream);

        using var get = await _gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/rerank") { Headers = { Authorization = new("Bearer", Master) } });
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
    }

    [Fact]
    public async Task Rerank_counts_against_the_keys_rate_limit()
    {
        var token = await _gateway.GenerateKeyAsync("""{"models":["rerank-english-v3.0"],"rpm_limit":1}""", Master);
        var body = $$"""{"model":"rerank-english-v3.0","query":"q","documents":{{Documents}}}""";
        var (first, _, _) = await PostAsync("/v1/rerank", body, token);
        Assert.Equal(HttpStatusCode.OK, first);
        var (second, error, _) = await PostAsync("/v1/rerank", body, token);
        Assert.Equal(HttpStatusCode.TooManyRequests, second);
        Assert.Equal("rate_limit_error", error.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_cohere_error_keeps_cohere_message_in_openai_shape()
    {
        _upstream.Fail("status=429", model: "command-r");
        var (status, body, _) = await PostAsync("/v1/chat/completions", """{"model":"command-r","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("Trial key", body.GetProperty("error").GetProperty("message").GetString());
    }
}
