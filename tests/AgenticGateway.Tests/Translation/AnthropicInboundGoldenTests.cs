using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Anthropic.Inbound;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// Golden files for the Anthropic-compatible inbound API, one directory per case under
/// Fixtures/translation/anthropic_inbound: anthropic_request.json → openai_request.json (or expected_error.json),
/// openai_response.json → anthropic_response.json, openai_stream.txt → anthropic_stream.txt.
/// </summary>
[Trait("Category", "unit")]
public class AnthropicInboundGoldenTests
{
    private const string Model = "claude-sonnet-4-5";
    private const string MessageId = "msg_test";
    private const long Estimate = 12;

    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "anthropic_inbound");

    public static TheoryData<string> Cases(string file)
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, file))) data.Add(Path.GetFileName(dir));
        return data;
    }

    public static TheoryData<string> RequestCases() => Cases("anthropic_request.json");
    public static TheoryData<string> ResponseCases() => Cases("openai_response.json");
    public static TheoryData<string> StreamCases() => Cases("openai_stream.txt");

    [Fact]
    public void Every_case_has_its_expected_files()
    {
        var dirs = Directory.GetDirectories(Root);
        Assert.True(dirs.Length >= 15, $"only {dirs.Length} cases");
        foreach (var dir in dirs)
        {
            var name = Path.GetFileName(dir);
            if (File.Exists(Path.Combine(dir, "anthropic_request.json")))
                Assert.True(File.Exists(Path.Combine(dir, "openai_request.json")) ^ File.Exists(Path.Combine(dir, "expected_error.json")), name);
            if (File.Exists(Path.Combine(dir, "openai_response.json"))) Assert.True(File.Exists(Path.Combine(dir, "anthropic_response.json")), name);
            if (File.Exists(Path.Combine(dir, "openai_stream.txt"))) Assert.True(File.Exists(Path.Combine(dir, "anthropic_stream.txt")), name);
        }
    }

    [Theory]
    [MemberData(nameof(RequestCases))]
    public void Request_converts_as_recorded(string name)
    {
        var error = AnthropicRequestConverter.ToOpenAi(Read(name, "anthropic_request.json"), out var body);
        if (File.Exists(Path.Combine(Root, name, "expected_error.json")))
        {
            Assert.NotNull(error);
            var expected = JsonNode.Parse(Read(name, "expected_error.json"))!;
            var actual = new JsonObject { ["status"] = error.Status, ["message"] = error.Message, ["code"] = AnthropicErrors.TypeFor(error) };
            AssertJson(expected, actual, name);
            Assert.Empty(body);
            return;
        }
        Assert.Null(error);
        AssertJson(JsonNode.Parse(Read(name, "openai_request.json")), JsonNode.Parse(body), name);
    }

    [Theory]
    [MemberData(nameof(ResponseCases))]
    public void Response_converts_as_recorded(string name)
    {
        var actual = AnthropicResponseConverter.FromOpenAi(Read(name, "openai_response.json"), Model, out var usage);
        AssertJson(JsonNode.Parse(Read(name, "anthropic_response.json")), JsonNode.Parse(actual), name);
        Assert.NotNull(usage);
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Stream_converts_as_recorded(string name)
    {
        var actual = ConvertStream(Read(name, "openai_stream.txt"), [int.MaxValue]);
        var expectedPath = Path.Combine(Root, name, "anthropic_stream.txt");
        if (!File.Exists(expectedPath))
        {
            File.WriteAllText(expectedPath + ".actual", actual);
            Assert.Fail($"{name}: no anthropic_stream.txt; the output was written next to it as .actual for review");
        }
        AssertStream(File.ReadAllText(expectedPath), actual, name);
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Stream_output_does_not_depend_on_how_the_input_is_split(string name)
    {
        var input = Read(name, "openai_stream.txt");
        var whole = ConvertStream(input, [int.MaxValue]);
        Assert.Equal(whole, ConvertStream(input, [1]));
        var random = new Random(name.GetHashCode(StringComparison.Ordinal));
        for (var round = 0; round < 20; round++)
        {
            var sizes = Enumerable.Range(0, 64).Select(_ => random.Next(1, 40)).ToArray();
            Assert.Equal(whole, ConvertStream(input, sizes));
        }
    }

    [Fact]
    public void Stream_events_come_out_as_soon_as_their_input_is_complete()
    {
        var stream = new OpenAiToAnthropicStream(Model, MessageId, Estimate);
        var output = new ArrayBufferWriter<byte>();
        stream.Feed("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel"u8, output);
        Assert.Equal(0, output.WrittenCount);
        stream.Feed("lo\"}}]}\n\n"u8, output);
        var events = Events(Encoding.UTF8.GetString(output.WrittenSpan));
        Assert.Equal(["message_start", "content_block_start", "content_block_delta"], events.Select(e => e.Name));
        Assert.Equal("Hello", events[2].Data["delta"]!["text"]!.GetValue<string>());
    }

    [Fact]
    public void A_wrong_translation_fails_the_comparison()
    {
        var expected = JsonNode.Parse(Read("plain", "anthropic_response.json"))!;
        var wrong = expected.DeepClone();
        wrong["stop_reason"] = "max_tokens";
        Assert.ThrowsAny<Exception>(() => AssertJson(expected, wrong, "plain"));

        var stream = File.ReadAllText(Path.Combine(Root, "plain", "anthropic_stream.txt"));
        Assert.ThrowsAny<Exception>(() => AssertStream(stream, stream.Replace("\"Hi! \"", "\"Hi!\"", StringComparison.Ordinal), "plain"));
        Assert.ThrowsAny<Exception>(() => AssertStream(stream, stream.Replace("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", "", StringComparison.Ordinal), "plain"));
    }

    [Fact]
    public void Interleaved_tool_arguments_end_the_stream_with_an_error_instead_of_being_dropped()
    {
        static string Call(int index, string? id, string args) => "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":" + index
            + (id is null ? "" : ",\"id\":\"" + id + "\",\"type\":\"function\"") + ",\"function\":{" + (id is null ? "" : "\"name\":\"f\",") + "\"arguments\":\"" + args + "\"}}]}}]}\n\n";
        var input = Encoding.UTF8.GetBytes(Call(0, "a", "{") + Call(1, "b", "{") + Call(0, null, "}") + "data: [DONE]\n\n");
        var stream = new OpenAiToAnthropicStream(Model, MessageId, Estimate);
        var events = Events(ConvertStream(stream, input, [int.MaxValue]));
        Assert.True(stream.Failed);
        Assert.Equal("error", events[^1].Name);
        Assert.Equal(2, events.Count(e => e.Name == "content_block_start"));
    }

    [Fact]
    public void Tool_calls_without_an_index_are_told_apart_by_id()
    {
        var input = Encoding.UTF8.GetBytes(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},{\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n");
        var events = Events(ConvertStream(input, [int.MaxValue]));
        var starts = events.Where(e => e.Name == "content_block_start").Select(e => e.Data["content_block"]!["id"]!.GetValue<string>());
        Assert.Equal(["a", "b"], starts);
        Assert.Equal("tool_use", events.Single(e => e.Name == "message_delta").Data["delta"]!["stop_reason"]!.GetValue<string>());
    }

    [Fact]
    public void Stream_reports_usage_and_failure()
    {
        var ok = new OpenAiToAnthropicStream(Model, MessageId, Estimate);
        ConvertStream(ok, Read("usage_cached", "openai_stream.txt"), [int.MaxValue]);
        Assert.False(ok.Failed);
        Assert.Equal(new Usage(2006, 300) { CachedPromptTokens = 1920 }, ok.Usage);

        var failed = new OpenAiToAnthropicStream(Model, MessageId, Estimate);
        ConvertStream(failed, Read("error_mid_stream", "openai_stream.txt"), [int.MaxValue]);
        Assert.True(failed.Failed);
    }

    [Theory]
    [InlineData(400, "invalid_request_error", "invalid_request_error")]
    [InlineData(401, "invalid_request_error", "authentication_error")]
    [InlineData(402, "insufficient_quota", "billing_error")]
    [InlineData(403, "permission_error", "permission_error")]
    [InlineData(404, "invalid_request_error", "not_found_error")]
    [InlineData(413, "invalid_request_error", "request_too_large")]
    [InlineData(422, "invalid_request_error", "invalid_request_error")]
    [InlineData(429, "rate_limit_error", "rate_limit_error")]
    [InlineData(500, "server_error", "api_error")]
    [InlineData(502, "server_error", "api_error")]
    [InlineData(503, "service_unavailable", "overloaded_error")]
    [InlineData(529, "overloaded_error", "overloaded_error")]
    [InlineData(504, "timeout", "timeout_error")]
    public void Gateway_errors_are_written_in_anthropic_shape(int status, string openAiType, string anthropicType)
    {
        var error = new ApiError(status, "Something happened.", openAiType);
        var body = JsonNode.Parse(AnthropicErrors.ToJson(error, "req_1"))!;
        AssertJson(JsonNode.Parse($$"""{"type":"error","error":{"type":"{{anthropicType}}","message":"Something happened."},"request_id":"req_1"}"""), body, "body");
        var sse = Encoding.UTF8.GetString(AnthropicErrors.SseEvent(error));
        var single = Assert.Single(Events(sse));
        Assert.Equal("error", single.Name);
        Assert.Equal(anthropicType, single.Data["error"]!["type"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(null, "rate_limit_exceeded", null, "rate_limit_error")]
    [InlineData("server_error", null, null, "api_error")]
    [InlineData("server_error", "server_overloaded", null, "overloaded_error")]
    [InlineData(null, null, 429, "rate_limit_error")]
    [InlineData("invalid_request_error", "context_length_exceeded", null, "invalid_request_error")]
    public void Stream_error_objects_map_to_anthropic_types(string? type, string? code, int? status, string expected) =>
        Assert.Equal(expected, AnthropicErrors.TypeForOpenAiError(type, code, status));

    [Theory]
    [InlineData(1024, "low")]
    [InlineData(2047, "low")]
    [InlineData(2048, "medium")]
    [InlineData(4095, "medium")]
    [InlineData(4096, "high")]
    [InlineData(31999, "high")]
    public void Thinking_budgets_map_to_reasoning_effort(long budget, string effort) =>
        Assert.Equal(effort, AnthropicRequestConverter.EffortForBudget(budget));

    [Fact]
    public void Token_count_covers_system_messages_tools_and_images()
    {
        var text = AnthropicTokenCounter.Estimate("""{"model":"m","messages":[{"role":"user","content":"Hello there, how are you?"}]}"""u8);
        var withSystem = AnthropicTokenCounter.Estimate("""{"model":"m","system":"You are a very helpful assistant.","messages":[{"role":"user","content":"Hello there, how are you?"}]}"""u8);
        var withImage = AnthropicTokenCounter.Estimate(Read("images", "anthropic_request.json"));
        var withTools = AnthropicTokenCounter.Estimate(Read("tool_results_round_trip", "anthropic_request.json"));
        Assert.InRange(text, 8, 20);
        Assert.True(withSystem > text + 5);
        Assert.True(withImage > 2 * 765);
        Assert.True(withTools > 100);
        // A body the converter refuses is still measured.
        Assert.True(AnthropicTokenCounter.Estimate("""{"messages":[{"role":"tool","content":"a fairly long text here"}]}"""u8) > 0);
    }

    private static byte[] Read(string name, string file) => File.ReadAllBytes(Path.Combine(Root, name, file));

    private static string ConvertStream(byte[] input, int[] sizes) =>
        ConvertStream(new OpenAiToAnthropicStream(Model, MessageId, Estimate), input, sizes);

    private static string ConvertStream(OpenAiToAnthropicStream stream, byte[] input, int[] sizes)
    {
        var output = new ArrayBufferWriter<byte>();
        var offset = 0;
        var i = 0;
        while (offset < input.Length)
        {
            var size = Math.Min(sizes[i++ % sizes.Length], input.Length - offset);
            stream.Feed(input.AsSpan(offset, size), output);
            offset += size;
        }
        stream.Complete(output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static void AssertJson(JsonNode? expected, JsonNode? actual, string name)
    {
        if (!JsonNode.DeepEquals(expected, actual))
            Assert.Fail($"{name}:\nexpected {expected?.ToJsonString()}\nactual   {actual?.ToJsonString()}");
    }

    private static void AssertStream(string expected, string actual, string name)
    {
        Assert.True(actual.EndsWith("\n\n", StringComparison.Ordinal), $"{name}: the output does not end with a complete event");
        var e = Events(expected);
        var a = Events(actual);
        for (var i = 0; i < Math.Min(e.Count, a.Count); i++)
        {
            Assert.True(e[i].Name == a[i].Name, $"{name}: event {i} is {a[i].Name}, expected {e[i].Name}");
            Assert.Equal(a[i].Name, a[i].Data["type"]!.GetValue<string>());
            AssertJson(e[i].Data, a[i].Data, $"{name} event {i}");
        }
        Assert.True(e.Count == a.Count, $"{name}: {a.Count} events, expected {e.Count}");
    }

    /// <summary>Parses Anthropic SSE: each event is exactly <c>event: name\ndata: json\n\n</c>.</summary>
    private static List<(string Name, JsonNode Data)> Events(string sse)
    {
        var events = new List<(string, JsonNode)>();
        foreach (var block in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0], StringComparison.Ordinal);
            Assert.StartsWith("data: ", lines[1], StringComparison.Ordinal);
            events.Add((lines[0]["event: ".Length..], JsonNode.Parse(lines[1]["data: ".Length..])!));
        }
        return events;
    }
}
