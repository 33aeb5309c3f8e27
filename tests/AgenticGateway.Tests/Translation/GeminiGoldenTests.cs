using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Google;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// Golden fixtures for the Gemini (AI Studio and Vertex AI) translation: every directory under
/// Fixtures/translation/gemini is a case, and every file pair found in it is checked. An optional <c>call.json</c>
/// sets the attempt (<c>vertex</c>, <c>stream</c>, <c>include_usage</c>, <c>model</c>, <c>embeddings</c>).
/// </summary>
[Trait("Category", "unit")]
public class GeminiGoldenTests
{
    /// <summary>A fixed clock: the three feeds of one stream must give byte-identical output.</summary>
    private static readonly TimeProvider Clock = new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_750_000_000));

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "gemini");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    private sealed record Case(string Dir, GeminiTranslator Translator, ProviderCall Call, bool Embeddings)
    {
        public bool Has(string file) => File.Exists(Path.Combine(Dir, file));
        public byte[] Bytes(string file) => File.ReadAllBytes(Path.Combine(Dir, file));
        public JsonNode Json(string file) => JsonNode.Parse(Bytes(file))!;
    }

    private static Case Load(string name)
    {
        var dir = Path.Combine(Root, name);
        var settings = File.Exists(Path.Combine(dir, "call.json")) ? JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "call.json")))!.AsObject() : [];
        bool Flag(string key) => settings[key]?.GetValue<bool>() ?? false;
        var vertex = Flag("vertex");
        var deployment = new DeploymentOptions
        {
            Id = "d1",
            ModelName = "gemini",
            Provider = vertex ? "vertex_ai" : "gemini",
            Model = "gemini-2.5-flash",
            ApiBase = new Uri(vertex ? "https://us-central1-aiplatform.googleapis.com" : "https://generativelanguage.googleapis.com"),
            ApiKey = new Secret(vertex ? null : "test-key"),
            Cloud = vertex ? new CloudOptions { VertexProject = "my-proj", VertexLocation = "us-central1" } : CloudOptions.None,
        };
        var translator = vertex ? new GeminiTranslator(true, _ => ValueTask.FromResult("ya29.test-token"), Clock) : new GeminiTranslator(Clock);
        var call = new ProviderCall(deployment, settings["model"]?.GetValue<string>() ?? "gemini-2.5-flash", Flag("stream"), Flag("include_usage"), "req-1");
        if (File.Exists(Path.Combine(dir, "openai_request.json"))) call = call with { Base64Embeddings = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "openai_request.json")))?["encoding_format"]?.GetValue<string>() == "base64" };
        return new Case(dir, translator, call, Flag("embeddings"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_fixture_pair_translates_exactly(string name)
    {
        var c = Load(name);
        var checkedPairs = 0;
        if (c.Has("openai_request.json"))
        {
            var built = c.Embeddings
                ? await c.Translator.BuildEmbeddingsRequestAsync(c.Bytes("openai_request.json"), c.Call, default)
                : await c.Translator.BuildChatRequestAsync(c.Bytes("openai_request.json"), c.Call, default);
            if (c.Has("expected_request_error.json"))
            {
                Assert.Null(built.Request);
                var expected = c.Json("expected_request_error.json");
                Assert.Equal(expected["status"]!.GetValue<int>(), built.Error!.Status);
                Assert.Equal(expected["message"]!.GetValue<string>(), built.Error.Message);
                Assert.Equal(expected["param"]?.GetValue<string>(), built.Error.Param);
                checkedPairs++;
            }
            else
            {
                Assert.True(built.Error is null, built.Error?.Message);
                using var request = built.Request!;
                var body = await request.Content!.ReadAsByteArrayAsync();
                AssertJson(c.Json("provider_request.json"), JsonNode.Parse(body)!, "provider_request.json");
                Assert.Equal("application/json", request.Content.Headers.ContentType?.MediaType);
                if (c.Has("provider_request.meta.json")) AssertMeta(c.Json("provider_request.meta.json"), request);
                checkedPairs++;
            }
        }
        if (c.Has("provider_response.json") && c.Has("openai_response.json"))
        {
            Usage? usage;
            var translated = c.Embeddings
                ? c.Translator.TranslateEmbeddingsResponse(c.Bytes("provider_response.json"), c.Call, out usage)
                : c.Translator.TranslateChatResponse(c.Bytes("provider_response.json"), c.Call, out usage);
            var actual = JsonNode.Parse(translated)!;
            AssertJson(c.Json("openai_response.json"), actual, "openai_response.json");
            if (actual["usage"] is JsonObject u && usage is { } read)
            {
                Assert.Equal(u["prompt_tokens"]!.GetValue<long>(), read.PromptTokens);
                Assert.Equal(u["total_tokens"]!.GetValue<long>(), read.TotalTokens);
            }
            checkedPairs++;
        }
        if (c.Has("provider_response.json") && c.Has("expected_response_error.json"))
        {
            var ex = Assert.Throws<InvalidDataException>(() => c.Translator.TranslateChatResponse(c.Bytes("provider_response.json"), c.Call, out _));
            Assert.Equal(c.Json("expected_response_error.json")["message"]!.GetValue<string>(), ex.Message);
            checkedPairs++;
        }
        if (c.Has("provider_stream.txt"))
        {
            CheckStream(c);
            checkedPairs++;
        }
        if (c.Has("provider_error.json"))
        {
            var expected = c.Json("expected_error.json");
            var error = c.Translator.ReadError(expected["http_status"]!.GetValue<int>(), c.Bytes("provider_error.json"));
            Assert.Equal(expected["status"]!.GetValue<int>(), error.Status);
            Assert.Equal(expected["message"]!.GetValue<string>(), error.Message);
            Assert.Equal(expected["code"]?.GetValue<string>(), error.Code);
            checkedPairs++;
        }
        Assert.True(checkedPairs > 0, $"case {name} has no file pair to check");
    }

    /// <summary>
    /// Feeds the recorded stream whole, one byte at a time and in random splits: all three must give the same
    /// output, equal event by event to the expected stream (or the expected error after the same events).
    /// </summary>
    private static void CheckStream(Case c)
    {
        var input = c.Bytes("provider_stream.txt");
        var whole = Run(c, [input]);
        var bytes = Run(c, input.Select(b => new[] { b }).ToArray());
        var random = new Random(Path.GetFileName(c.Dir).Length * 7919);
        var pieces = new List<byte[]>();
        for (var at = 0; at < input.Length;)
        {
            var n = Math.Min(random.Next(1, 40), input.Length - at);
            pieces.Add(input[at..(at + n)]);
            at += n;
        }
        var split = Run(c, [.. pieces]);
        Assert.Equal(whole.Output, bytes.Output);
        Assert.Equal(whole.Output, split.Output);

        var expected = Events(Encoding.UTF8.GetString(c.Bytes("openai_stream.txt")));
        var actual = Events(whole.Output);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            if (expected[i] == "[DONE]") { Assert.Equal("[DONE]", actual[i]); continue; }
            AssertJson(JsonNode.Parse(expected[i])!, JsonNode.Parse(actual[i])!, $"openai_stream.txt event {i}");
        }

        if (c.Has("expected_stream_error.json"))
        {
            var error = c.Json("expected_stream_error.json");
            Assert.NotNull(whole.Error);
            if (error["invalid_data"] is not null) Assert.IsType<InvalidDataException>(whole.Error);
            else
            {
                var provider = Assert.IsType<ProviderStreamException>(whole.Error).Error;
                Assert.Equal(error["status"]!.GetValue<int>(), provider.Status);
                Assert.Equal(error["message"]!.GetValue<string>(), provider.Message);
                Assert.Equal(error["code"]?.GetValue<string>(), provider.Code);
            }
            Assert.Equal(whole.Error!.GetType(), bytes.Error?.GetType());
        }
        else
        {
            Assert.Null(whole.Error);
            var usage = whole.Usage;
            var last = actual.Count >= 2 ? JsonNode.Parse(actual[^2]) : null;
            if (c.Call.IncludeUsage && last?["usage"] is JsonObject u)
                Assert.Equal(u["total_tokens"]!.GetValue<long>(), usage?.TotalTokens);
        }
    }

    private static (string Output, Exception? Error, Usage? Usage) Run(Case c, byte[][] pieces)
    {
        var stream = c.Translator.CreateChatStream(c.Call);
        var output = new ArrayBufferWriter<byte>();
        try
        {
            foreach (var piece in pieces) stream.Feed(piece, output);
            stream.Complete(output);
            return (Encoding.UTF8.GetString(output.WrittenSpan), null, stream.Usage);
        }
        catch (Exception ex) when (ex is ProviderStreamException or InvalidDataException)
        {
            return (Encoding.UTF8.GetString(output.WrittenSpan), ex, stream.Usage);
        }
    }

    /// <summary>The data of each SSE event, checking the framing (<c>data: ...</c> then a blank line) on the way.</summary>
    private static List<string> Events(string sse)
    {
        var events = new List<string>();
        foreach (var block in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", block);
            events.Add(block["data: ".Length..]);
        }
        Assert.True(sse.Length == 0 || sse.EndsWith("\n\n", StringComparison.Ordinal), "stream must end with a complete event");
        return events;
    }

    private static void AssertMeta(JsonNode meta, HttpRequestMessage request)
    {
        Assert.Equal(meta["method"]!.GetValue<string>(), request.Method.Method);
        Assert.Equal(meta["url"]!.GetValue<string>(), request.RequestUri!.ToString());
        if (meta["headers"] is JsonObject headers)
            foreach (var (name, value) in headers)
                Assert.Equal(value!.GetValue<string>(), string.Join(",", request.Headers.GetValues(name)));
        if (meta["absent_headers"] is JsonArray absent)
            foreach (var name in absent) Assert.False(request.Headers.Contains(name!.GetValue<string>()), $"header {name} must not be sent");
    }

    /// <summary>Semantic JSON equality with <c>created</c> blanked (it is the current time).</summary>
    private static void AssertJson(JsonNode expected, JsonNode actual, string what)
    {
        Blank(expected);
        Blank(actual);
        Assert.True(JsonNode.DeepEquals(expected, actual), $"{what} differs.\nexpected: {expected.ToJsonString()}\nactual:   {actual.ToJsonString()}");
    }

    private static void Blank(JsonNode node)
    {
        if (node is JsonObject o && o.ContainsKey("created")) o["created"] = 0;
    }

    [Fact]
    public void A_wrong_translation_fails_the_comparison()
    {
        var expected = JsonNode.Parse("""{"choices":[{"finish_reason":"content_filter"}],"created":1}""")!;
        var wrong = JsonNode.Parse("""{"choices":[{"finish_reason":"stop"}],"created":2}""")!;
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertJson(expected, wrong, "self-check"));
    }
}
