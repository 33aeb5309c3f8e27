using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.OpenAiResponses;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Tests.Translation;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// Golden fixtures for chat through a Responses-only deployment (Fixtures/translation/responses_outbound): the chat
/// request as a Responses create body, the response object and its SSE events back as chat, errors in OpenAI's shape;
/// and every recorded Responses stream through <see cref="ResponsesNativeTap"/>, which must pass it through unchanged.
/// Streams are fed whole, a byte at a time and in random splits, and must give the same bytes each time.
/// </summary>
[Trait("Category", "unit")]
public class UpstreamResponsesGoldenTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "responses_outbound");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    public static TheoryData<string> StreamCases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, "provider_stream.txt"))) data.Add(Path.GetFileName(dir));
        return data;
    }

    private sealed record Case(string Dir, ResponsesApiTranslator Translator, ProviderCall Call)
    {
        public bool Has(string file) => File.Exists(Path.Combine(Dir, file));
        public byte[] Bytes(string file) => File.ReadAllBytes(Path.Combine(Dir, file));
        public string Text(string file) => File.ReadAllText(Path.Combine(Dir, file));
        public JsonNode Json(string file) => JsonNode.Parse(Bytes(file))!;
    }

    private static Case Load(string name)
    {
        var dir = Path.Combine(Root, name);
        var settings = File.Exists(Path.Combine(dir, "call.json")) ? JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "call.json")))!.AsObject() : [];
        bool Flag(string key) => settings[key]?.GetValue<bool>() ?? false;
        var model = settings["model"]?.GetValue<string>();
        var deployment = new DeploymentOptions
        {
            Id = "d1",
            ModelName = "m",
            Provider = "openai",
            Model = model ?? "o3-pro",
            ApiBase = new Uri("https://api.openai.com/v1"),
            ApiKey = new Secret("test-key"),
            ResponsesApi = ResponsesApiMode.Only,
        };
        var uri = new Uri(settings["responses_uri"]?.GetValue<string>() ?? "https://api.openai.com/v1/responses");
        // The upstream model is the request's own (as a deployment that names it would send) unless call.json fixes one.
        return new Case(dir, new ResponsesApiTranslator(uri), new ProviderCall(deployment, model ?? "", Flag("stream"), Flag("include_usage"), "req-1"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_fixture_pair_translates_exactly(string name)
    {
        var c = Load(name);
        var checkedPairs = 0;
        if (c.Has("openai_request.json"))
        {
            var call = c.Call.UpstreamModel.Length > 0 ? c.Call : c.Call with { UpstreamModel = c.Json("openai_request.json")["model"]!.GetValue<string>() };
            var built = await c.Translator.BuildChatRequestAsync(c.Bytes("openai_request.json"), call, default);
            if (c.Has("expected_request_error.json"))
            {
                Assert.Null(built.Request);
                var expected = c.Json("expected_request_error.json");
                Assert.Equal(expected["status"]!.GetValue<int>(), built.Error!.Status);
                Assert.Equal(expected["message"]!.GetValue<string>(), built.Error.Message);
                Assert.Equal(expected["param"]?.GetValue<string>(), built.Error.Param);
                Assert.Equal("invalid_request_error", built.Error.Type);
            }
            else
            {
                Assert.True(built.Error is null, built.Error?.Message);
                using var request = built.Request!;
                GoldenAssert.Json(c.Text("provider_request.json"), await request.Content!.ReadAsStringAsync(), "provider_request.json");
                Assert.Equal("application/json", request.Content.Headers.ContentType?.MediaType);
                if (c.Has("provider_request.meta.json")) LiteLlmProviderGoldenTests.AssertMeta(c.Json("provider_request.meta.json"), request);
            }
            checkedPairs++;
        }
        if (c.Has("provider_response.json"))
        {
            var translated = c.Translator.TranslateChatResponse(c.Bytes("provider_response.json"), c.Call, out var usage);
            GoldenAssert.Json(c.Text("openai_response.json"), Encoding.UTF8.GetString(translated), "openai_response.json");
            var u = c.Json("provider_response.json")["usage"]!;
            Assert.Equal(u["input_tokens"]!.GetValue<long>(), usage?.PromptTokens);
            Assert.Equal(u["output_tokens"]!.GetValue<long>(), usage?.CompletionTokens);
            Assert.Equal(u["input_tokens_details"]!["cached_tokens"]!.GetValue<long>(), usage?.CachedPromptTokens);
            Assert.Equal(u["output_tokens_details"]!["reasoning_tokens"]!.GetValue<long>(), usage?.ReasoningTokens);
            checkedPairs++;
        }
        if (c.Has("provider_stream.txt"))
        {
            CheckChatStream(c);
            checkedPairs++;
        }
        if (c.Has("provider_error.json"))
        {
            var expected = c.Json("expected_error.json");
            var error = c.Translator.ReadError(expected["http_status"]!.GetValue<int>(), c.Bytes("provider_error.json"));
            Assert.Equal(expected["status"]!.GetValue<int>(), error.Status);
            Assert.Equal(expected["message"]!.GetValue<string>(), error.Message);
            checkedPairs++;
        }
        Assert.True(checkedPairs > 0, $"case {name} has no file pair to check");
    }

    private static void CheckChatStream(Case c)
    {
        var runs = Splits(c).Select(pieces => Run(c.Translator.CreateChatStream(c.Call), pieces)).ToList();
        foreach (var run in runs.Skip(1)) Assert.Equal(runs[0].Output, run.Output);
        var whole = runs[0];
        GoldenAssert.Stream(c.Text("openai_stream.txt"), Encoding.UTF8.GetString(whole.Output));
        if (c.Has("expected_stream_error.json"))
        {
            var expected = c.Json("expected_stream_error.json");
            if (expected["invalid_data"] is not null) Assert.IsType<InvalidDataException>(whole.Error);
            else
            {
                var error = Assert.IsType<ProviderStreamException>(whole.Error).Error;
                Assert.Equal(expected["status"]!.GetValue<int>(), error.Status);
                Assert.Equal(expected["message"]!.GetValue<string>(), error.Message);
            }
        }
        else
        {
            Assert.True(whole.Error is null, whole.Error?.Message);
            var usage = c.Json("expected_usage.json");
            Assert.Equal(usage["prompt_tokens"]!.GetValue<long>(), whole.Usage?.PromptTokens);
            Assert.Equal(usage["completion_tokens"]!.GetValue<long>(), whole.Usage?.CompletionTokens);
        }
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void A_native_stream_passes_through_byte_for_byte_while_its_usage_and_final_response_are_read(string name)
    {
        var c = Load(name);
        var input = c.Bytes("provider_stream.txt");
        foreach (var pieces in Splits(c))
        {
            var tap = new ResponsesNativeTap();
            var (bytes, error, usage) = Run(tap, pieces);
            Assert.Equal(input, bytes);
            if (c.Has("final_response.json"))
            {
                Assert.Null(error);
                Assert.True(JsonNode.DeepEquals(c.Json("final_response.json"), JsonNode.Parse(tap.FinalResponse!)), "final response differs");
                Assert.StartsWith("response.", tap.EndedWith, StringComparison.Ordinal);
            }
            else
            {
                // Cut before its terminal event: everything received went through, and the tap says the stream is incomplete.
                Assert.IsType<InvalidDataException>(error);
                Assert.Null(tap.FinalResponse);
            }
            if (c.Has("expected_usage.json"))
            {
                var expected = c.Json("expected_usage.json");
                Assert.Equal(expected["prompt_tokens"]!.GetValue<long>(), usage?.PromptTokens);
                Assert.Equal(expected["completion_tokens"]!.GetValue<long>(), usage?.CompletionTokens);
            }
        }
    }

    /// <summary>The recorded stream whole, a byte at a time, and in random pieces of 1 to 40 bytes.</summary>
    private static IEnumerable<byte[][]> Splits(Case c)
    {
        var input = c.Bytes("provider_stream.txt");
        yield return [input];
        yield return input.Select(b => new[] { b }).ToArray();
        var random = new Random(Path.GetFileName(c.Dir).Length * 7919);
        var pieces = new List<byte[]>();
        for (var at = 0; at < input.Length;)
        {
            var n = Math.Min(random.Next(1, 40), input.Length - at);
            pieces.Add(input[at..(at + n)]);
            at += n;
        }
        yield return [.. pieces];
    }

    private static (byte[] Output, Exception? Error, Usage? Usage) Run(IStreamTranslator stream, byte[][] pieces)
    {
        var output = new ArrayBufferWriter<byte>();
        try
        {
            foreach (var piece in pieces) stream.Feed(piece, output);
            stream.Complete(output);
            return (output.WrittenSpan.ToArray(), null, stream.Usage);
        }
        catch (Exception ex) when (ex is ProviderStreamException or InvalidDataException)
        {
            return (output.WrittenSpan.ToArray(), ex, stream.Usage);
        }
    }

    [Fact]
    public void Usage_is_read_from_a_response_object()
    {
        Assert.True(ResponsesNativeUsage.TryRead("""{"id":"resp_1","object":"response","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":17}}"""u8, out var usage));
        Assert.Equal(new Usage(10, 7) { CachedPromptTokens = 4, ReasoningTokens = 5 }, usage);
        Assert.False(ResponsesNativeUsage.TryRead("""{"id":"resp_1","object":"response","usage":null}"""u8, out _));
        Assert.False(ResponsesNativeUsage.TryRead("""{"id":"resp_1","usage":{"input_tokens":"""u8, out _));
    }
}
