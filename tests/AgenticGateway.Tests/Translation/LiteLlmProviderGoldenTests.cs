using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Cohere;
using AgenticGateway.Providers.OpenAiText;
using AgenticGateway.Providers.Rerank;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// Golden fixtures for the providers LiteLLM configs name that need translation: Cohere's v2 chat and embed
/// (Fixtures/translation/cohere, provider bodies from Cohere's cohere-openapi.yaml examples) and OpenAI's legacy
/// completions behind a chat request (Fixtures/translation/text_completion_openai, provider bodies from OpenAI's API
/// reference). Each directory is a case; an optional <c>call.json</c> sets the attempt (<c>stream</c>,
/// <c>include_usage</c>, <c>embeddings</c>, <c>base64</c>, <c>model</c>, <c>api_base</c>). Every file pair found is checked.
/// </summary>
[Trait("Category", "unit")]
public class LiteLlmProviderGoldenTests
{
    private static readonly TimeProvider Clock = new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_750_000_000));

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var provider in new[] { "cohere", "text_completion_openai" })
            foreach (var dir in Directory.GetDirectories(Path.Combine(Root, provider)).Order(StringComparer.Ordinal))
                data.Add(provider + "/" + Path.GetFileName(dir));
        return data;
    }

    private sealed record Case(string Dir, IProviderTranslator Translator, ProviderCall Call, bool Embeddings)
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
        var cohere = name.StartsWith("cohere/", StringComparison.Ordinal);
        var deployment = new DeploymentOptions
        {
            Id = "d1",
            ModelName = "m",
            Provider = cohere ? "cohere" : "text-completion-openai",
            Model = settings["model"]?.GetValue<string>() ?? (cohere ? "command-a-03-2025" : "gpt-3.5-turbo-instruct"),
            ApiBase = new Uri(settings["api_base"]?.GetValue<string>() ?? (cohere ? "https://api.cohere.com" : "https://api.openai.com/v1")),
            ApiKey = new Secret("test-key"),
        };
        IProviderTranslator translator = cohere ? new CohereTranslator(Clock) : new TextCompletionTranslator();
        var call = new ProviderCall(deployment, deployment.Model, Flag("stream"), Flag("include_usage"), "req-1") { Base64Embeddings = Flag("base64") };
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
            }
            else
            {
                Assert.True(built.Error is null, built.Error?.Message);
                using var request = built.Request!;
                var body = await request.Content!.ReadAsStringAsync();
                GoldenAssert.Json(File.ReadAllText(Path.Combine(c.Dir, "provider_request.json")), body, "provider_request.json");
                Assert.Equal("application/json", request.Content.Headers.ContentType?.MediaType);
                if (c.Has("provider_request.meta.json")) AssertMeta(c.Json("provider_request.meta.json"), request);
            }
            checkedPairs++;
        }
        if (c.Has("provider_response.json") && c.Has("openai_response.json"))
        {
            Usage? usage;
            var translated = c.Embeddings
                ? c.Translator.TranslateEmbeddingsResponse(c.Bytes("provider_response.json"), c.Call, out usage)
                : c.Translator.TranslateChatResponse(c.Bytes("provider_response.json"), c.Call, out usage);
            GoldenAssert.Json(File.ReadAllText(Path.Combine(c.Dir, "openai_response.json")), Encoding.UTF8.GetString(translated), "openai_response.json");
            var u = JsonNode.Parse(translated)!["usage"];
            Assert.Equal(u?["prompt_tokens"]?.GetValue<long>() ?? 0, usage?.PromptTokens ?? 0);
            Assert.Equal(u?["completion_tokens"]?.GetValue<long>() ?? 0, usage?.CompletionTokens ?? 0);
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
            checkedPairs++;
        }
        Assert.True(checkedPairs > 0, $"case {name} has no file pair to check");
    }

    /// <summary>The recorded stream fed whole, a byte at a time and in random splits: the same events each time, equal to the expected ones.</summary>
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
        GoldenAssert.Stream(File.ReadAllText(Path.Combine(c.Dir, "openai_stream.txt")), whole.Output);
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
            if (c.Has("expected_usage.json"))
            {
                var usage = c.Json("expected_usage.json");
                Assert.Equal(usage["prompt_tokens"]!.GetValue<long>(), whole.Usage?.PromptTokens);
                Assert.Equal(usage["completion_tokens"]!.GetValue<long>(), whole.Usage?.CompletionTokens);
            }
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

    internal static void AssertMeta(JsonNode meta, HttpRequestMessage request)
    {
        Assert.Equal(meta["method"]!.GetValue<string>(), request.Method.Method);
        Assert.Equal(meta["url"]!.GetValue<string>(), request.RequestUri!.ToString());
        if (meta["headers"] is JsonObject headers)
            foreach (var (name, value) in headers)
                Assert.Equal(value!.GetValue<string>(), string.Join(",", request.Headers.GetValues(name)));
    }

    /// <summary>The rerank cases: Fixtures/translation/rerank/{cohere_v2,cohere_v1,jina,vllm,...}.</summary>
    public static TheoryData<string> RerankCases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(Root, "rerank")).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    [Theory]
    [MemberData(nameof(RerankCases))]
    public async Task Every_rerank_fixture_translates_exactly(string name)
    {
        var dir = Path.Combine(Root, "rerank", name);
        var settings = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "call.json")))!.AsObject();
        var dialect = Enum.Parse<RerankDialect>(settings["dialect"]!.GetValue<string>());
        var deployment = new DeploymentOptions
        {
            Id = "d1",
            ModelName = "rerank",
            Provider = dialect switch { RerankDialect.Cohere => "cohere", RerankDialect.Jina => "jina_ai", _ => "hosted_vllm" },
            Model = settings["model"]!.GetValue<string>(),
            ApiBase = new Uri(settings["api_base"]!.GetValue<string>()),
            ApiKey = new Secret("test-key"),
        };
        var translator = new RerankTranslator(dialect);
        var call = new ProviderCall(deployment, deployment.Model, false, false, "req-1");
        var client = File.ReadAllBytes(Path.Combine(dir, "client_request.json"));
        var built = await translator.BuildRerankRequestAsync(client, call, default);
        if (File.Exists(Path.Combine(dir, "expected_request_error.json")))
        {
            var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "expected_request_error.json")))!;
            Assert.Null(built.Request);
            Assert.Equal(expected["message"]!.GetValue<string>(), built.Error!.Message);
            return;
        }
        Assert.True(built.Error is null, built.Error?.Message);
        using (var request = built.Request!)
        {
            GoldenAssert.Json(File.ReadAllText(Path.Combine(dir, "provider_request.json")), await request.Content!.ReadAsStringAsync(), "provider_request.json");
            AssertMeta(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "provider_request.meta.json")))!, request);
        }
        var answer = translator.TranslateRerankResponse(File.ReadAllBytes(Path.Combine(dir, "provider_response.json")), client, call, out var usage);
        GoldenAssert.Json(File.ReadAllText(Path.Combine(dir, "response.json")), Encoding.UTF8.GetString(answer), "response.json");
        var expectedUsage = settings["usage"]!;
        Assert.Equal(expectedUsage["tokens"]!.GetValue<long>(), usage!.Value.PromptTokens);
        Assert.Equal(expectedUsage["search_units"]!.GetValue<long>(), usage.Value.SearchUnits);
    }
}
