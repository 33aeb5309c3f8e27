using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Emulator;

/// <summary>
/// The emulator's Cohere v2 dialect (chat JSON and SSE, embed, rerank v1/v2), Jina's and vLLM's rerank, and OpenAI's
/// legacy completions with a list of prompts, checked against the shapes the providers document (cohere-openapi.yaml,
/// Jina's and vLLM's rerank answers, OpenAI's completions reference).
/// </summary>
[Trait("Category", "functional")]
public class CohereEmulatorTests : IAsyncLifetime
{
    private const string Key = "co-test-key";
    private EmulatorServer _mock = null!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync() => _mock = await EmulatorServer.StartAsync(apiKey: Key);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _mock.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> PostAsync(string path, string json, string key = Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _mock.Url + path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Fact]
    public async Task Chat_answers_in_cohere_v2_shape()
    {
        var (status, text, _) = await PostAsync("/v2/chat", """{"model":"command-r","messages":[{"role":"user","content":"Tell me about LLMs"}],"max_tokens":100}""");
        Assert.Equal(HttpStatusCode.OK, status);
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        Assert.True(Guid.TryParse(root.GetProperty("id").GetString(), out _));
        Assert.Equal("COMPLETE", root.GetProperty("finish_reason").GetString());
        Assert.Equal("assistant", root.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("text", root.GetProperty("message").GetProperty("content")[0].GetProperty("type").GetString());
        var usage = root.GetProperty("usage");
        Assert.True(usage.GetProperty("billed_units").GetProperty("output_tokens").GetInt32() > 0);
        Assert.True(usage.GetProperty("tokens").GetProperty("input_tokens").GetInt32() > usage.GetProperty("billed_units").GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_streams_cohere_events_with_event_lines_and_done()
    {
        var (status, text, response) = await PostAsync("/v2/chat", """{"model":"command-r","stream":true,"messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var blocks = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", blocks[^1]);
        var types = new List<string>();
        foreach (var block in blocks[..^1])
        {
            var lines = block.Split('\n');
            Assert.StartsWith("event: ", lines[0]);
            using var data = JsonDocument.Parse(lines[1]["data: ".Length..]);
            var type = data.RootElement.GetProperty("type").GetString()!;
            Assert.Equal(lines[0]["event: ".Length..], type);
            types.Add(type);
        }
        Assert.Equal("message-start", types[0]);
        Assert.Equal("message-end", types[^1]);
        Assert.Contains("tool-plan-delta", types);
        Assert.Equal(types.IndexOf("tool-call-start") + 1, types.IndexOf("tool-call-delta"));
        Assert.Contains("tool-call-end", types);
    }

    [Fact]
    public async Task Chat_refuses_openai_only_fields_and_bad_keys_in_cohere_error_shape()
    {
        var (status, text, _) = await PostAsync("/v2/chat", """{"model":"command-r","messages":[{"role":"user","content":"hi"}],"top_p":0.5}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        using (var doc = JsonDocument.Parse(text)) Assert.Contains("top_p", doc.RootElement.GetProperty("message").GetString());
        var (unauthorized, body, _) = await PostAsync("/v2/chat", """{"model":"command-r","messages":[{"role":"user","content":"hi"}]}""", key: "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized);
        using var error = JsonDocument.Parse(body);
        Assert.Equal("invalid api token", error.RootElement.GetProperty("message").GetString());
        Assert.True(error.RootElement.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task Embed_answers_float_embeddings_by_type_with_billed_units()
    {
        var (status, text, _) = await PostAsync("/v2/embed", """{"model":"embed-v4.0","texts":["hello","goodbye"],"input_type":"classification","embedding_types":["float"],"output_dimension":256}""");
        Assert.Equal(HttpStatusCode.OK, status);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal(2, doc.RootElement.GetProperty("embeddings").GetProperty("float").GetArrayLength());
        Assert.Equal(256, doc.RootElement.GetProperty("embeddings").GetProperty("float")[0].GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("meta").GetProperty("billed_units").GetProperty("input_tokens").GetInt32() > 0);
        var (missing, _, _) = await PostAsync("/v2/embed", """{"model":"embed-v4.0","texts":["hello"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, missing);
    }

    private const string Documents = """["Carson City is the capital city of Nevada.","Washington, D.C. is the capital of the United States.","Capital punishment has existed in the United States."]""";

    [Theory]
    [InlineData("/v2/rerank", "rerank-v3.5")]
    [InlineData("/v1/rerank", "rerank-english-v3.0")]
    [InlineData("/v1/rerank", "jina-reranker-v2-base-multilingual")]
    [InlineData("/rerank", "BAAI/bge-reranker-base")]
    public async Task Rerank_answers_in_each_providers_shape(string path, string model)
    {
        var (status, text, _) = await PostAsync(path, $$"""{"model":"{{model}}","query":"What is the capital of the United States?","documents":{{Documents}},"top_n":2,"return_documents":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        var results = root.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        Assert.Equal(1, results[0].GetProperty("index").GetInt32());
        var jina = model.StartsWith("jina", StringComparison.Ordinal);
        var vllm = path == "/rerank";
        // Cohere's v2 never returns documents; v1, Jina and vLLM do when asked (vLLM always).
        Assert.Equal(path != "/v2/rerank", results[0].TryGetProperty("document", out _));
        if (jina || vllm)
        {
            Assert.True(root.GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
            Assert.Equal(model, root.GetProperty("model").GetString());
        }
        else
        {
            Assert.Equal(1, root.GetProperty("meta").GetProperty("billed_units").GetProperty("search_units").GetInt32());
            Assert.Equal(path == "/v2/rerank" ? "2" : "1", root.GetProperty("meta").GetProperty("api_version").GetProperty("version").GetString());
        }
    }

    [Fact]
    public async Task Legacy_completions_answer_one_choice_per_prompt_of_a_list()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _mock.ApiBase + "/completions")
        {
            Content = new StringContent("""{"model":"gpt-3.5-turbo-instruct","prompt":["Be brief.","Say this is a test"],"max_tokens":5}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", Key);
        using var response = await _http.SendAsync(request);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choices = doc.RootElement.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        Assert.Equal(1, choices[1].GetProperty("index").GetInt32());
        Assert.NotEqual(choices[0].GetProperty("text").GetString(), choices[1].GetProperty("text").GetString());
    }
}
