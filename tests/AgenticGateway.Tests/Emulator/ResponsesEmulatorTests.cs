using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Emulator;

/// <summary>
/// The emulator's Responses API (OpenAI's and Azure's paths), JSON and SSE, and the tool-call directive in every
/// dialect that takes tools: the shapes clients and the gateway's Responses pieces are tested against.
/// </summary>
[Trait("Category", "functional")]
public class ResponsesEmulatorTests : IAsyncLifetime
{
    private EmulatorServer _mock = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _mock = await EmulatorServer.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri(_mock.Url) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mock.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string json, string? fault = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (fault is not null) request.Headers.Add("x-mock-fault", fault);
        if (path.EndsWith("/messages", StringComparison.Ordinal)) request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonObject> CreateAsync(string json, string path = "/v1/responses")
    {
        var (status, body) = await PostAsync(path, json);
        Assert.True(status == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>The events of a Responses stream: each <c>event:</c> name with its parsed <c>data:</c>.</summary>
    private async Task<List<(string Event, JsonObject Data)>> StreamAsync(string json, string path = "/v1/responses")
    {
        var (status, body) = await PostAsync(path, json);
        Assert.True(status == HttpStatusCode.OK, body);
        Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
        var events = new List<(string, JsonObject)>();
        foreach (var frame in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = frame.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0], StringComparison.Ordinal);
            Assert.StartsWith("data: ", lines[1], StringComparison.Ordinal);
            events.Add((lines[0]["event: ".Length..], JsonNode.Parse(lines[1]["data: ".Length..])!.AsObject()));
        }
        return events;
    }

    private static string Text(JsonObject response) =>
        string.Concat(response["output"]!.AsArray().Where(i => (string?)i!["type"] == "message")
            .SelectMany(i => i!["content"]!.AsArray()).Select(c => (string?)c!["text"]));

    private const string WeatherTools = """
        [{"type":"function","name":"get_time","description":"Time now","parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}},
         {"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}]
        """;

    [Fact]
    public async Task A_response_has_OpenAIs_shape_and_usage_that_matches_its_text()
    {
        var r = await CreateAsync("""{"model":"gpt-4.1","input":"What is a gateway?","instructions":"Be brief.","metadata":{"k":"v"}}""");
        Assert.StartsWith("resp_", (string)r["id"]!, StringComparison.Ordinal);
        Assert.Equal("response", (string)r["object"]!);
        Assert.Equal("completed", (string)r["status"]!);
        Assert.Null(r["error"]);
        Assert.Null(r["incomplete_details"]);
        Assert.Equal("Be brief.", (string)r["instructions"]!);
        Assert.Equal("gpt-4.1", (string)r["model"]!);
        Assert.True((bool)r["store"]!);
        Assert.True((bool)r["parallel_tool_calls"]!);
        Assert.Equal("auto", (string)r["tool_choice"]!);
        Assert.Equal("text", (string)r["text"]!["format"]!["type"]!);
        Assert.Equal("v", (string)r["metadata"]!["k"]!);
        Assert.Equal("disabled", (string)r["truncation"]!);
        Assert.False(r.ContainsKey("output_text")); // the SDKs compute it; the API does not send it

        var message = Assert.Single(r["output"]!.AsArray())!.AsObject();
        Assert.Equal("message", (string)message["type"]!);
        Assert.StartsWith("msg_", (string)message["id"]!, StringComparison.Ordinal);
        Assert.Equal("completed", (string)message["status"]!);
        Assert.Equal("assistant", (string)message["role"]!);
        var part = Assert.Single(message["content"]!.AsArray())!;
        Assert.Equal("output_text", (string)part["type"]!);
        Assert.Empty(part["annotations"]!.AsArray());

        var usage = r["usage"]!;
        Assert.Equal(Text(r).Split(' ').Length, (int)usage["output_tokens"]!);
        Assert.Equal(3 + 3 + 3 + 5, (int)usage["input_tokens"]!); // priming + "Be brief ." + item + "What is a gateway ?"
        Assert.Equal((int)usage["input_tokens"]! + (int)usage["output_tokens"]!, (int)usage["total_tokens"]!);
        Assert.Equal(0, (int)usage["input_tokens_details"]!["cached_tokens"]!);
        Assert.Equal(0, (int)usage["output_tokens_details"]!["reasoning_tokens"]!);

        var again = await CreateAsync("""{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":"What is a gateway?"}]}]}""");
        Assert.NotEqual((string)r["id"]!, (string)again["id"]!);
    }

    [Fact]
    public async Task A_streamed_response_sends_the_documented_events_in_order_with_sequence_numbers()
    {
        var events = await StreamAsync("""{"model":"gpt-4.1","input":"Stream please","stream":true}""");
        for (var i = 0; i < events.Count; i++)
        {
            Assert.Equal(events[i].Event, (string)events[i].Data["type"]!);
            Assert.Equal(i, (int)events[i].Data["sequence_number"]!);
        }
        var names = events.Select(e => e.Event).ToList();
        var deltas = names.Count(n => n == "response.output_text.delta");
        Assert.True(deltas > 1);
        Assert.Equal(
            ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
             .. Enumerable.Repeat("response.output_text.delta", deltas),
             "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"],
            names);

        var created = events[0].Data["response"]!;
        Assert.Equal("in_progress", (string)created["status"]!);
        Assert.Empty(created["output"]!.AsArray());
        Assert.Null(created["usage"]);
        var added = events[2].Data;
        Assert.Equal(0, (int)added["output_index"]!);
        Assert.Equal("in_progress", (string)added["item"]!["status"]!);
        Assert.Empty(added["item"]!["content"]!.AsArray());
        var itemId = (string)added["item"]!["id"]!;
        var text = string.Concat(events.Where(e => e.Event == "response.output_text.delta").Select(e =>
        {
            Assert.Equal(itemId, (string)e.Data["item_id"]!);
            Assert.Equal(0, (int)e.Data["content_index"]!);
            Assert.Empty(e.Data["logprobs"]!.AsArray());
            return (string)e.Data["delta"]!;
        }));
        Assert.Equal(text, (string)events[^4].Data["text"]!);
        Assert.Equal(text, (string)events[^3].Data["part"]!["text"]!);
        Assert.Equal("completed", (string)events[^2].Data["item"]!["status"]!);
        var completed = events[^1].Data["response"]!.AsObject();
        Assert.Equal("completed", (string)completed["status"]!);
        Assert.Equal((string)created["id"]!, (string)completed["id"]!);
        Assert.Equal(text, Text(completed));
        Assert.Equal(deltas, (int)completed["usage"]!["output_tokens"]!);

        // The same request unstreamed says the same thing.
        var whole = await CreateAsync("""{"model":"gpt-4.1","input":"Stream please"}""");
        Assert.Equal(text, Text(whole));
    }

    [Fact]
    public async Task Function_tools_are_called_with_function_call_items_and_argument_events()
    {
        var r = await CreateAsync($$$"""{"model":"gpt-4.1","input":"Weather?","tools":{{{WeatherTools}}},"tool_choice":{"type":"function","name":"get_weather"}}""");
        var call = Assert.Single(r["output"]!.AsArray())!;
        Assert.Equal("function_call", (string)call["type"]!);
        Assert.StartsWith("fc_", (string)call["id"]!, StringComparison.Ordinal);
        Assert.StartsWith("call_", (string)call["call_id"]!, StringComparison.Ordinal);
        Assert.Equal("get_weather", (string)call["name"]!);
        Assert.Equal("completed", (string)call["status"]!);
        Assert.Equal("mock-city", (string)JsonNode.Parse((string)call["arguments"]!)!["city"]!);

        var events = await StreamAsync($$$"""{"model":"gpt-4.1","input":"Weather?","tools":{{{WeatherTools}}},"stream":true}""");
        var names = events.Select(e => e.Event).ToList();
        var deltas = names.Count(n => n == "response.function_call_arguments.delta");
        Assert.Equal(
            ["response.created", "response.in_progress", "response.output_item.added",
             .. Enumerable.Repeat("response.function_call_arguments.delta", deltas),
             "response.function_call_arguments.done", "response.output_item.done", "response.completed"],
            names);
        var added = events[2].Data["item"]!;
        Assert.Equal("", (string)added["arguments"]!);
        Assert.Equal("get_time", (string)added["name"]!);
        var args = string.Concat(events.Where(e => e.Event == "response.function_call_arguments.delta").Select(e => (string)e.Data["delta"]!));
        var done = events[^3].Data;
        Assert.Equal(args, (string)done["arguments"]!);
        Assert.Equal("get_time", (string)done["name"]!);
        Assert.Equal((string)added["id"]!, (string)done["item_id"]!);
        Assert.Equal(args, (string)events[^2].Data["item"]!["arguments"]!);

        var none = await CreateAsync($$$"""{"model":"gpt-4.1","input":"Weather?","tools":{{{WeatherTools}}},"tool_choice":"none"}""");
        Assert.Equal("message", (string)none["output"]![0]!["type"]!);
        // Hosted tools are the gateway's to run: the model never calls them itself.
        var hosted = await CreateAsync("""{"model":"gpt-4.1","input":"Run code","tools":[{"type":"code_interpreter","container":{"type":"auto"}}]}""");
        Assert.Equal("message", (string)hosted["output"]![0]!["type"]!);
        Assert.Equal("code_interpreter", (string)hosted["tools"]![0]!["type"]!);
    }

    [Fact]
    public async Task Max_output_tokens_makes_the_response_incomplete()
    {
        const string Long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        var r = await CreateAsync($$$"""{"model":"gpt-4.1","input":"Count","max_output_tokens":16,"mock_response":"{{{Long}}}"}""");
        Assert.Equal("incomplete", (string)r["status"]!);
        Assert.Equal("max_output_tokens", (string)r["incomplete_details"]!["reason"]!);
        Assert.Equal(16, (int)r["max_output_tokens"]!);
        Assert.Equal("incomplete", (string)r["output"]![0]!["status"]!);
        Assert.Equal(16, (int)r["usage"]!["output_tokens"]!);
        Assert.Equal(string.Join(' ', Long.Split(' ').Take(16)), Text(r));

        var events = await StreamAsync($$$"""{"model":"gpt-4.1","input":"Count","max_output_tokens":16,"mock_response":"{{{Long}}}","stream":true}""");
        Assert.Equal("response.incomplete", events[^1].Event);
        Assert.Equal("incomplete", (string)events[^1].Data["response"]!["status"]!);
        Assert.Equal("incomplete", (string)events[^2].Data["item"]!["status"]!);

        var (status, body) = await PostAsync("/v1/responses", """{"model":"gpt-4.1","input":"Count","max_output_tokens":5}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonNode.Parse(body)!["error"]!;
        Assert.Equal("max_output_tokens", (string)error["param"]!);
        Assert.Equal("integer_below_min_value", (string)error["code"]!);
    }

    [Fact]
    public async Task A_json_schema_format_answers_with_JSON_matching_the_schema_and_is_echoed()
    {
        var r = await CreateAsync("""
            {"model":"gpt-4.1","input":"Give a city","text":{"format":{"type":"json_schema","name":"city","strict":true,
             "schema":{"type":"object","properties":{"name":{"type":"string"},"population":{"type":"integer"}},"required":["name","population"],"additionalProperties":false}}}}
            """);
        var value = JsonNode.Parse(Text(r))!;
        Assert.Equal("mock-name", (string)value["name"]!);
        Assert.Equal(42, (int)value["population"]!);
        Assert.Equal("json_schema", (string)r["text"]!["format"]!["type"]!);
        Assert.Equal("city", (string)r["text"]!["format"]!["name"]!);
    }

    [Fact]
    public async Task A_reasoning_model_asked_to_reason_adds_a_reasoning_item_and_reasoning_tokens()
    {
        var r = await CreateAsync("""{"model":"o4-mini","input":"Think","reasoning":{"effort":"low","summary":"auto"},"include":["reasoning.encrypted_content"]}""");
        var output = r["output"]!.AsArray();
        Assert.Equal(["reasoning", "message"], output.Select(i => (string)i!["type"]!));
        var reasoning = output[0]!;
        Assert.StartsWith("rs_", (string)reasoning["id"]!, StringComparison.Ordinal);
        var summary = Assert.Single(reasoning["summary"]!.AsArray())!;
        Assert.Equal("summary_text", (string)summary["type"]!);
        Assert.False(string.IsNullOrEmpty((string)reasoning["encrypted_content"]!));
        var usage = r["usage"]!;
        var reasoningTokens = (int)usage["output_tokens_details"]!["reasoning_tokens"]!;
        Assert.Equal(((string)summary["text"]!).Split(' ').Length, reasoningTokens);
        Assert.Equal(reasoningTokens + Text(r).Split(' ').Length, (int)usage["output_tokens"]!);
        Assert.Equal("low", (string)r["reasoning"]!["effort"]!);

        var events = await StreamAsync("""{"model":"o4-mini","input":"Think","reasoning":{"effort":"low","summary":"auto"},"stream":true}""");
        var names = events.Select(e => e.Event).ToList();
        var deltas = names.Count(n => n == "response.reasoning_summary_text.delta");
        Assert.Equal(
            ["response.created", "response.in_progress", "response.output_item.added", "response.reasoning_summary_part.added",
             .. Enumerable.Repeat("response.reasoning_summary_text.delta", deltas),
             "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done"],
            names.Take(7 + deltas));
        Assert.Equal(0, (int)events[3].Data["summary_index"]!);

        // Without a reasoning request, or on a model that does not reason, there is no reasoning item.
        Assert.Equal("message", (string)(await CreateAsync("""{"model":"o4-mini","input":"Think"}"""))["output"]![0]!["type"]!);
        Assert.Equal("message", (string)(await CreateAsync("""{"model":"gpt-4.1","input":"Think","reasoning":{"effort":"low"}}"""))["output"]![0]!["type"]!);
    }

    [Theory]
    [InlineData("/openai/v1/responses")]
    [InlineData("/openai/responses?api-version=2025-04-01-preview")]
    public async Task Azures_responses_paths_are_served(string path)
    {
        var r = await CreateAsync("""{"model":"my-deployment","input":"hi"}""", path);
        Assert.Equal("completed", (string)r["status"]!);
        Assert.Equal("my-deployment", (string)r["model"]!);
    }

    [Theory]
    [InlineData("""{"model":"m","input":"hi","previous_response_id":"resp_1"}""", "previous_response_id", "previous_response_not_found")]
    [InlineData("""{"model":"m"}""", "input", "missing_required_parameter")]
    [InlineData("""{"model":"m","input":42}""", "input", "invalid_type")]
    [InlineData("""{"model":"m","input":[{"type":"function_call_output","call_id":"call_9","output":"x"}]}""", "input", null)]
    [InlineData("""{"model":"m","input":[{"role":"robot","content":"x"}]}""", "input[0].role", "invalid_value")]
    [InlineData("""{"model":"m","input":"hi","tools":[{"type":"function"}]}""", "tools[0].name", "missing_required_parameter")]
    public async Task Bad_requests_get_OpenAIs_400(string json, string param, string? code)
    {
        var (status, body) = await PostAsync("/v1/responses", json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonNode.Parse(body)!["error"]!;
        Assert.Equal("invalid_request_error", (string)error["type"]!);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);
        Assert.False(string.IsNullOrEmpty((string)error["message"]!));
    }

    [Fact]
    public async Task Faults_apply_to_responses_as_to_chat()
    {
        var (status, body) = await PostAsync("/v1/responses", """{"model":"m","input":"hi"}""", fault: "status=429,retry_after=1");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("rate_limit_exceeded", (string)JsonNode.Parse(body)!["error"]!["code"]!);

        (status, body) = await PostAsync("/v1/responses", """{"model":"m","input":"hi"}""", fault: "context_window");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("input", (string)JsonNode.Parse(body)!["error"]!["param"]!);

        _mock.Fail("status=503", model: "scripted");
        (status, _) = await PostAsync("/v1/responses", """{"model":"scripted","input":"hi"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        (status, _) = await PostAsync("/v1/responses", """{"model":"scripted","input":"hi"}""");
        Assert.Equal(HttpStatusCode.OK, status);

        // A cut stream sends its first events, then drops the connection (no response.completed).
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent("""{"model":"m","input":"hi","stream":true}""", Encoding.UTF8, "application/json") };
        request.Headers.Add("x-mock-fault", "cut=3");
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        var received = new MemoryStream();
        await Assert.ThrowsAnyAsync<Exception>(() => stream.CopyToAsync(received));
        var text = Encoding.UTF8.GetString(received.ToArray());
        Assert.Contains("event: response.created", text, StringComparison.Ordinal);
        Assert.DoesNotContain("response.completed", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_tool_call_directive_calls_the_named_tool_with_exactly_those_arguments_in_every_dialect()
    {
        const string Directive = """Please check.\nmock_tool_call: {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris & <Nice>\", \"days\": 3}}""";
        const string Args = """{"city": "Paris & <Nice>", "days": 3}""";

        var r = await CreateAsync($$$"""{"model":"gpt-4.1","input":"{{{Directive}}}","tools":{{{WeatherTools}}}}""");
        var call = Assert.Single(r["output"]!.AsArray())!;
        Assert.Equal("get_weather", (string)call["name"]!);
        Assert.Equal(Args, (string)call["arguments"]!);

        var events = await StreamAsync($$$"""{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":"{{{Directive}}}"}]}],"tools":{{{WeatherTools}}},"stream":true}""");
        Assert.Equal(Args, (string)events.Single(e => e.Event == "response.function_call_arguments.done").Data["arguments"]!);

        var chatTools = """[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}},{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]""";
        var (_, chat) = await PostAsync("/v1/chat/completions", $$$"""{"model":"m","messages":[{"role":"user","content":"{{{Directive}}}"}],"tools":{{{chatTools}}}}""");
        var chatCall = Assert.Single(JsonNode.Parse(chat)!["choices"]![0]!["message"]!["tool_calls"]!.AsArray())!;
        Assert.Equal("get_weather", (string)chatCall["function"]!["name"]!);
        Assert.Equal(Args, (string)chatCall["function"]!["arguments"]!);
        Assert.Equal("tool_calls", (string)JsonNode.Parse(chat)!["choices"]![0]!["finish_reason"]!);

        var (_, chatStream) = await PostAsync("/v1/chat/completions", $$$"""{"model":"m","stream":true,"messages":[{"role":"user","content":"{{{Directive}}}"}],"tools":{{{chatTools}}}}""");
        var streamedArgs = string.Concat(chatStream.Split("\n\n").Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
            .Select(e => JsonNode.Parse(e[6..])!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["tool_calls"]?[0]?["function"]?["arguments"])
            .Where(a => a is not null).Select(a => (string)a!));
        Assert.Equal(Args, streamedArgs);

        var anthropicTools = """[{"name":"get_time","input_schema":{"type":"object"}},{"name":"get_weather","input_schema":{"type":"object"}}]""";
        var (_, anthropic) = await PostAsync("/v1/messages", $$$"""{"model":"claude","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"{{{Directive}}}"}]}],"tools":{{{anthropicTools}}}}""");
        var use = Assert.Single(JsonNode.Parse(anthropic)!["content"]!.AsArray())!;
        Assert.Equal("tool_use", (string)use["type"]!);
        Assert.Equal("get_weather", (string)use["name"]!);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Args), use["input"]));

        // A tool that is not offered is not called: the model falls back to its usual choice.
        var (_, other) = await PostAsync("/v1/chat/completions", $$$$"""{"model":"m","messages":[{"role":"user","content":"{{{{Directive}}}}"}],"tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}]}""");
        Assert.Equal("get_time", (string)JsonNode.Parse(other)!["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!["name"]!);
    }

    [Fact]
    public async Task After_a_tool_result_the_answer_quotes_it_in_every_dialect()
    {
        var r = await CreateAsync("""
            {"model":"gpt-4.1","input":[{"role":"user","content":"Weather?"},
              {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},
              {"type":"function_call_output","call_id":"call_1","output":"18C and sunny"}]}
            """);
        Assert.Contains("Tool result: 18C and sunny", Text(r), StringComparison.Ordinal);

        var big = new string('x', 5000);
        var (_, chat) = await PostAsync("/v1/chat/completions", $$$$"""
            {"model":"m","messages":[{"role":"user","content":"Weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"{{{{big}}}}"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}
            """);
        var content = (string)JsonNode.Parse(chat)!["choices"]![0]!["message"]!["content"]!;
        Assert.Equal("Tool result: " + big[..2000], content);

        var (_, anthropic) = await PostAsync("/v1/messages", """
            {"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"Weather?"},
              {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C and sunny"}]}]}],
             "tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}
            """);
        Assert.Equal("Tool result: 18C and sunny", (string)JsonNode.Parse(anthropic)!["content"]![0]!["text"]!);
    }

    [Fact]
    public async Task The_directives_work_in_gemini_bedrock_and_cohere_too()
    {
        const string Directive = """Go.\nmock_tool_call: {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}""";

        var (_, gemini) = await PostAsync("/v1beta/models/gemini-2.5-flash:generateContent", $$$"""
            {"contents":[{"role":"user","parts":[{"text":"{{{Directive}}}"}]}],
             "tools":[{"functionDeclarations":[{"name":"get_time","parameters":{"type":"OBJECT"}},{"name":"get_weather","parameters":{"type":"OBJECT"}}]}]}
            """);
        var call = JsonNode.Parse(gemini)!["candidates"]![0]!["content"]!["parts"]![0]!["functionCall"]!;
        Assert.Equal("get_weather", (string)call["name"]!);
        Assert.Equal("Paris", (string)call["args"]!["city"]!);
        (_, gemini) = await PostAsync("/v1beta/models/gemini-2.5-flash:generateContent", """
            {"contents":[{"role":"user","parts":[{"text":"Weather?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18C"}}}]}],
             "tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT"}}]}]}
            """);
        Assert.Equal("Tool result: 18C", (string)JsonNode.Parse(gemini)!["candidates"]![0]!["content"]!["parts"]![0]!["text"]!);

        const string BedrockTools = """{"tools":[{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}},{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}}]}""";
        var (_, bedrock) = await PostAsync("/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse", $$$"""
            {"messages":[{"role":"user","content":[{"text":"{{{Directive}}}"}]}],"toolConfig":{{{BedrockTools}}}}
            """);
        var use = JsonNode.Parse(bedrock)!["output"]!["message"]!["content"]!.AsArray().Single(b => b!["toolUse"] is not null)!["toolUse"]!;
        Assert.Equal("get_weather", (string)use["name"]!);
        Assert.Equal("Paris", (string)use["input"]!["city"]!);
        (_, bedrock) = await PostAsync("/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse", $$$$"""
            {"messages":[{"role":"user","content":[{"text":"Weather?"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]},
              {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"18C"}]}}]}],"toolConfig":{{{{BedrockTools}}}}}
            """);
        Assert.Equal("Tool result: 18C", (string)JsonNode.Parse(bedrock)!["output"]!["message"]!["content"]![0]!["text"]!);

        const string CohereTools = """[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}},{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]""";
        var (_, cohere) = await PostAsync("/v2/chat", $$$"""{"model":"command-a-03-2025","messages":[{"role":"user","content":"{{{Directive}}}"}],"tools":{{{CohereTools}}}}""");
        var cohereCall = Assert.Single(JsonNode.Parse(cohere)!["message"]!["tool_calls"]!.AsArray())!;
        Assert.Equal("get_weather", (string)cohereCall["function"]!["name"]!);
        Assert.Equal("""{"city": "Paris"}""", (string)cohereCall["function"]!["arguments"]!);
        (_, cohere) = await PostAsync("/v2/chat", $$$"""
            {"model":"command-a-03-2025","messages":[{"role":"user","content":"Weather?"},
              {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"c1","content":"18C"}],"tools":{{{CohereTools}}}}
            """);
        Assert.Equal("Tool result: 18C", (string)JsonNode.Parse(cohere)!["message"]!["content"]![0]!["text"]!);
    }
}
