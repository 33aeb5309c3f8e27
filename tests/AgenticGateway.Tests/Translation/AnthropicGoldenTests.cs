using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// Golden fixtures for the Anthropic translator (Fixtures/translation/anthropic/&lt;case&gt;/): every file pair a case
/// directory holds is checked. An optional call.json sets the attempt: model, stream, include_usage, vertex,
/// anthropic_version/anthropic_beta (client headers), upstream_status (for provider_error), expect_incomplete.
/// </summary>
[Trait("Category", "unit")]
public class AnthropicGoldenTests
{
    private const string DefaultModel = "claude-sonnet-4-5-20250929";
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "anthropic");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    [Fact]
    public void Every_case_has_a_pair_to_check()
    {
        var cases = Directory.GetDirectories(Root);
        Assert.True(cases.Length >= 40, $"only {cases.Length} cases");
        foreach (var dir in cases)
        {
            bool Has(string f) => File.Exists(Path.Combine(dir, f));
            var pairs = (Has("openai_request.json") && (Has("provider_request.json") || Has("expected_request_error.json")) ? 1 : 0)
                + (Has("provider_response.json") && Has("openai_response.json") ? 1 : 0)
                + (Has("provider_stream.txt") && (Has("openai_stream.txt") || Has("expected_error.json") || Has("call.json")) ? 1 : 0)
                + ((Has("provider_error.json") || Has("provider_error.txt")) && Has("expected_error.json") ? 1 : 0);
            Assert.True(pairs > 0, $"{Path.GetFileName(dir)} has no input/expected pair");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Case(string name)
    {
        var dir = Path.Combine(Root, name);
        var settings = File.Exists(Path.Combine(dir, "call.json")) ? JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "call.json")))!.AsObject() : new JsonObject();
        var translator = Translator(settings);
        var call = Call(settings);

        if (Read(dir, "openai_request.json") is { } openAiRequest)
        {
            var translated = await translator.BuildChatRequestAsync(Encoding.UTF8.GetBytes(openAiRequest), call, CancellationToken.None);
            if (Read(dir, "expected_request_error.json") is { } expectedError)
            {
                Assert.Null(translated.Request);
                var expected = JsonNode.Parse(expectedError)!;
                Assert.Equal((int)expected["status"]!, translated.Error!.Status);
                Assert.Equal((string?)expected["param"], translated.Error.Param);
                Assert.False(string.IsNullOrEmpty(translated.Error.Message));
            }
            else
            {
                Assert.True(translated.Error is null, translated.Error?.Message);
                using var request = translated.Request!;
                var body = await request.Content!.ReadAsStringAsync();
                AssertJson(Read(dir, "provider_request.json")!, body, "provider_request.json");
                if (Read(dir, "provider_request.meta.json") is { } metaText) AssertMeta(JsonNode.Parse(metaText)!, request);
            }
        }

        if (Read(dir, "provider_response.json") is { } providerResponse)
        {
            var output = translator.TranslateChatResponse(Encoding.UTF8.GetBytes(providerResponse), call, out var usage);
            var expected = Expected(dir, "openai_response.json", Encoding.UTF8.GetString(output));
            AssertJson(expected, Encoding.UTF8.GetString(output), "openai_response.json");
            var expectedUsage = JsonNode.Parse(expected)!["usage"]!;
            Assert.Equal((long)expectedUsage["prompt_tokens"]!, usage!.Value.PromptTokens);
            Assert.Equal((long)expectedUsage["completion_tokens"]!, usage.Value.CompletionTokens);
            Assert.Equal((long)expectedUsage["prompt_tokens_details"]!["cached_tokens"]!, usage.Value.CachedPromptTokens);
        }

        if (Read(dir, "provider_stream.txt") is { } providerStream)
        {
            var input = Encoding.UTF8.GetBytes(providerStream);
            if (Read(dir, "expected_error.json") is { } streamError)
            {
                var expected = JsonNode.Parse(streamError)!;
                foreach (var split in Splits(input))
                {
                    var ex = Assert.Throws<ProviderStreamException>(() => RunStream(translator, call, split));
                    Assert.Equal((int)expected["status"]!, ex.Error.Status);
                    Assert.Equal((string?)expected["message"], ex.Error.Message);
                    Assert.Equal((string?)expected["code"], ex.Error.Code);
                }
            }
            else if (settings["expect_incomplete"] is not null)
            {
                foreach (var split in Splits(input)) Assert.Throws<InvalidDataException>(() => RunStream(translator, call, split));
            }
            else
            {
                var outputs = Splits(input).Select(split => RunStream(translator, call, split)).ToList();
                foreach (var other in outputs.Skip(1)) Assert.Equal(outputs[0], other); // any split gives the same bytes
                var expected = Expected(dir, "openai_stream.txt", outputs[0]);
                AssertStream(expected, outputs[0]);
            }
        }

        var errorBody = Read(dir, "provider_error.json") ?? Read(dir, "provider_error.txt");
        if (errorBody is not null)
        {
            var expected = JsonNode.Parse(Read(dir, "expected_error.json")!)!;
            var error = translator.ReadError((int)settings["upstream_status"]!, Encoding.UTF8.GetBytes(errorBody));
            Assert.Equal((int)expected["status"]!, error.Status);
            Assert.Equal((string?)expected["message"], error.Message);
            Assert.Equal((string?)expected["code"], error.Code);
        }
    }

    [Fact]
    public void A_wrong_translation_fails_the_comparison()
    {
        var dir = Path.Combine(Root, "tools_single");
        var output = Encoding.UTF8.GetString(Translator(new JsonObject()).TranslateChatResponse(File.ReadAllBytes(Path.Combine(dir, "provider_response.json")), Call(new JsonObject()), out _));
        var tampered = JsonNode.Parse(output)!;
        tampered["choices"]![0]!["finish_reason"] = "stop";
        Assert.ThrowsAny<Exception>(() => AssertJson(tampered.ToJsonString(), output, "tampered"));

        var stream = File.ReadAllText(Path.Combine(Root, "parallel_tool_calls_stream", "openai_stream.txt"));
        Assert.ThrowsAny<Exception>(() => AssertStream(stream.Replace("\"index\":1", "\"index\":2"), stream));
    }

    [Fact]
    public async Task Embeddings_are_refused_with_a_400()
    {
        var result = await new AnthropicTranslator().BuildEmbeddingsRequestAsync("{\"input\":\"x\"}"u8.ToArray(), Call(new JsonObject()), CancellationToken.None);
        Assert.Null(result.Request);
        Assert.Equal(400, result.Error!.Status);
        Assert.Contains("embeddings", result.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://api.anthropic.com")]
    [InlineData("https://api.anthropic.com/")]
    [InlineData("https://api.anthropic.com/v1")]
    [InlineData("https://api.anthropic.com/v1/messages")]
    public void Api_base_is_accepted_with_or_without_the_version_path(string apiBase)
    {
        Assert.Equal("https://api.anthropic.com/v1/messages", AnthropicTranslator.MessagesUri(new Uri(apiBase)).ToString());
        Assert.Equal("https://api.anthropic.com/v1/messages/count_tokens", AnthropicTranslator.CountTokensUri(new Uri(apiBase)).ToString());
    }

    [Fact]
    public void An_empty_error_body_still_gives_a_message()
    {
        var error = new AnthropicTranslator().ReadError(529, []);
        Assert.Equal(503, error.Status);
        Assert.Equal("Anthropic returned HTTP 529.", error.Message);
    }

    private static AnthropicTranslator Translator(JsonObject settings)
    {
        var headers = new AnthropicHeaders((string?)settings["anthropic_version"], (string?)settings["anthropic_beta"]);
        return settings["vertex"] is not null
            ? AnthropicTranslator.ForVertex(_ => ValueTask.FromResult("ya29.test-token"), headers, FixedTime.Instance)
            : new AnthropicTranslator(headers, FixedTime.Instance);
    }

    private static ProviderCall Call(JsonObject settings)
    {
        var vertex = settings["vertex"] is not null;
        var deployment = new DeploymentOptions
        {
            Id = "golden",
            ModelName = "claude",
            Provider = vertex ? "vertex_ai" : "anthropic",
            Model = (string?)settings["model"] ?? DefaultModel,
            ApiBase = new Uri(vertex ? "https://us-east5-aiplatform.googleapis.com" : "https://api.anthropic.com"),
            ApiKey = vertex ? default : new Secret("sk-ant-test"),
            Cloud = vertex ? new CloudOptions { VertexProject = "my-project", VertexLocation = "us-east5" } : CloudOptions.None,
        };
        return new ProviderCall(deployment, deployment.Model, (bool?)settings["stream"] ?? false, (bool?)settings["include_usage"] ?? false, "req-golden");
    }

    internal static string RunStream(IProviderTranslator translator, ProviderCall call, IEnumerable<byte[]> pieces)
    {
        var stream = translator.CreateChatStream(call);
        var output = new ArrayBufferWriter<byte>();
        foreach (var piece in pieces) stream.Feed(piece, output);
        stream.Complete(output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>The whole input at once, one byte at a time, and three seeded random splittings.</summary>
    private static IEnumerable<IEnumerable<byte[]>> Splits(byte[] input)
    {
        yield return [input];
        yield return input.Select(b => new[] { b });
        for (var seed = 1; seed <= 3; seed++)
        {
            var random = new Random(seed);
            var pieces = new List<byte[]>();
            for (var i = 0; i < input.Length;)
            {
                var n = Math.Min(random.Next(1, 40), input.Length - i);
                pieces.Add(input[i..(i + n)]);
                i += n;
            }
            yield return pieces;
        }
    }

    private static void AssertMeta(JsonNode meta, HttpRequestMessage request)
    {
        Assert.Equal((string)meta["method"]!, request.Method.Method);
        Assert.Equal((string)meta["url"]!, request.RequestUri!.OriginalString);
        foreach (var (name, value) in meta["headers"]!.AsObject())
        {
            var actual = request.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
                : request.Content!.Headers.TryGetValues(name, out var contentValues) ? string.Join(",", contentValues) : null;
            Assert.Equal((string?)value, actual);
        }
        if (meta["absent_headers"] is JsonArray absent)
            foreach (var name in absent) Assert.False(request.Headers.Contains((string)name!), $"header {name} must not be sent");
    }

    internal static void AssertJson(string expected, string actual, string what) => GoldenAssert.Json(expected, actual, what);

    internal static void AssertStream(string expected, string actual)
    {
        GoldenAssert.Stream(expected, actual);
        Assert.EndsWith("data: [DONE]\n\n", actual, StringComparison.Ordinal);
    }

    private static string? Read(string dir, string file) => File.Exists(Path.Combine(dir, file)) ? File.ReadAllText(Path.Combine(dir, file)) : null;

    /// <summary>
    /// The expected file; with ANTHROPIC_GOLDEN_WRITE=1 a missing one is written from the actual output into the
    /// source tree (to be reviewed by hand before committing), and the test fails so it is never silently accepted.
    /// </summary>
    private static string Expected(string dir, string file, string actual)
    {
        if (Read(dir, file) is { } expected) return expected;
        if (Environment.GetEnvironmentVariable("ANTHROPIC_GOLDEN_WRITE") == "1")
        {
            var source = Path.Combine(SourceRoot(), Path.GetFileName(dir), file);
            File.WriteAllText(source, file.EndsWith(".json", StringComparison.Ordinal) ? JsonNode.Parse(actual)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n" : actual);
            Assert.Fail($"wrote {source}: review it");
        }
        Assert.Fail($"{Path.GetFileName(dir)}/{file} is missing");
        return "";
    }

    private static string SourceRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticGateway.Tests.csproj"))) dir = dir.Parent;
        return Path.Combine(dir!.FullName, "Fixtures", "translation", "anthropic");
    }

    private sealed class FixedTime : TimeProvider
    {
        public static readonly FixedTime Instance = new();
        public override DateTimeOffset GetUtcNow() => new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    }
}
