using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// Golden fixtures for the Bedrock translator: every case directory under Fixtures/translation/bedrock is checked
/// against every file pair it holds. Stream frames come as hex built by an independent encoder (Python's zlib CRC)
/// and as a JSON list that our encoder must turn into the very same bytes.
/// </summary>
[Trait("Category", "unit")]
public class BedrockGoldenTests
{
    internal static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "bedrock");
    internal const string DefaultModel = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    internal static readonly DateTimeOffset SigningTime = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    [Fact]
    public void Every_fixture_case_is_discovered()
    {
        Assert.True(Cases().Count >= 40, $"expected the Bedrock fixture cases under {Root}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Fixture_case_translates_exactly(string name)
    {
        var dir = Path.Combine(Root, name);
        var caseInfo = File.Exists(Path.Combine(dir, "case.json")) ? JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "case.json")))!.AsObject() : new JsonObject();
        var call = Call(caseInfo);
        if (File.Exists(Path.Combine(dir, "openai_request.json"))) call = call with { Base64Embeddings = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "openai_request.json")))?["encoding_format"]?.GetValue<string>() == "base64" };
        var translator = new BedrockTranslator(time: new FixedTime(SigningTime));
        var embeddings = caseInfo["kind"]?.GetValue<string>() == "embeddings";
        var checks = 0;

        string? Read(string file) => File.Exists(Path.Combine(dir, file)) ? File.ReadAllText(Path.Combine(dir, file)) : null;
        var expectedError = Read("expected_error.json") is { } e ? JsonNode.Parse(e)!.AsObject() : null;

        if (Read("openai_request.json") is { } openAiRequest)
        {
            var body = Encoding.UTF8.GetBytes(openAiRequest);
            var translated = embeddings
                ? await translator.BuildEmbeddingsRequestAsync(body, call, CancellationToken.None)
                : await translator.BuildChatRequestAsync(body, call, CancellationToken.None);
            if (Read("provider_request.json") is { } expectedBody)
            {
                Assert.Null(translated.Error?.Message);
                var request = translated.Request!;
                var sent = await request.Content!.ReadAsStringAsync();
                AssertJson(expectedBody, sent, "provider_request.json");
                if (Read("provider_request.meta.json") is { } meta) AssertMeta(JsonNode.Parse(meta)!.AsObject(), request);
                checks++;
            }
            else if (expectedError is not null && Read("provider_response.json") is null)
            {
                var error = translated.Error ?? throw new Xunit.Sdk.XunitException("expected the request to be refused");
                Assert.Equal(expectedError["status"]!.GetValue<int>(), error.Status);
                Assert.Equal(expectedError["message"]!.GetValue<string>(), error.Message);
                Assert.Equal(expectedError["param"]?.GetValue<string>(), error.Param);
                Assert.Equal(expectedError["code"]?.GetValue<string>(), error.Code);
                checks++;
            }
        }

        if (Read("provider_response.json") is { } providerResponse)
        {
            var bytes = Encoding.UTF8.GetBytes(providerResponse);
            if (Read("openai_response.json") is { } expectedResponse)
            {
                var output = embeddings
                    ? translator.TranslateEmbeddingsResponse(bytes, call, out var usage)
                    : translator.TranslateChatResponse(bytes, call, out usage);
                AssertJson(expectedResponse, Encoding.UTF8.GetString(output), "openai_response.json");
                AssertUsageMatches(JsonNode.Parse(expectedResponse)!["usage"], usage, embeddings && name.Contains("cohere", StringComparison.Ordinal));
                checks++;
            }
            else if (expectedError is not null)
            {
                var ex = Assert.Throws<ProviderStreamException>(() => translator.TranslateChatResponse(bytes, call, out _));
                AssertError(expectedError, ex.Error);
                checks++;
            }
        }

        if (Read("provider_stream.hex") is { } hex)
        {
            var frames = Convert.FromHexString(hex.Trim());
            if (Read("provider_stream.json") is { } events)
                Assert.Equal(Convert.ToHexString(frames), Convert.ToHexString(EncodeFrames(events)));
            var expectedStream = Read("openai_stream.txt") ?? "";
            var streamError = Read("expected_stream_error.json") is { } se ? JsonNode.Parse(se)!.AsObject() : null;
            var random = new Random(name.Length * 7919);
            foreach (var split in new Func<int, int>[] { _ => frames.Length, _ => 1, _ => random.Next(1, 23), _ => random.Next(1, 200) })
            {
                var (output, error, usage) = RunStream(translator, call, frames, split);
                AssertStream(expectedStream, output);
                if (streamError is null)
                {
                    Assert.Null(error?.Message);
                    Assert.NotNull(usage);
                }
                else
                {
                    Assert.NotNull(error);
                    AssertError(streamError, error.Value);
                }
            }
            checks++;
        }

        if (Read("provider_error.json") is { } providerError)
        {
            var error = translator.ReadError(caseInfo["status"]!.GetValue<int>(), Encoding.UTF8.GetBytes(providerError));
            AssertError(expectedError!, error);
            checks++;
        }

        Assert.True(checks > 0, $"case {name} has no file pair to check");
    }

    internal static ProviderCall Call(JsonObject caseInfo)
    {
        var model = caseInfo["model"]?.GetValue<string>() ?? DefaultModel;
        var apiKey = caseInfo["api_key"]?.GetValue<string>();
        var deployment = new DeploymentOptions
        {
            Id = "bedrock-test",
            ModelName = "claude",
            Provider = "bedrock",
            Model = model,
            ApiBase = new Uri("https://bedrock-runtime.us-east-1.amazonaws.com"),
            ApiKey = new Secret(apiKey),
            Cloud = apiKey is not null ? new CloudOptions { AwsRegion = "us-east-1" } : new CloudOptions
            {
                AwsRegion = "us-east-1",
                AwsAccessKeyId = new Secret("AKIDEXAMPLE"),
                AwsSecretAccessKey = new Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                AwsSessionToken = new Secret(caseInfo["session_token"]?.GetValue<string>()),
            },
        };
        return new ProviderCall(deployment, model, caseInfo["stream"]?.GetValue<bool>() ?? false, caseInfo["include_usage"]?.GetValue<bool>() ?? false, "req-1");
    }

    /// <summary>Frames from the JSON list of (event-type or exception-type, payload), with our encoder.</summary>
    internal static byte[] EncodeFrames(string json)
    {
        var all = new List<byte>();
        foreach (var item in JsonNode.Parse(json)!.AsArray())
        {
            var payload = Encoding.UTF8.GetBytes(item!["payload"]!.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            all.AddRange(item["event"] is { } ev ? EventStreamMessage.Event(ev.GetValue<string>(), payload) : EventStreamMessage.Exception(item["exception"]!.GetValue<string>(), payload));
        }
        return all.ToArray();
    }

    internal static (string Output, ProviderError? Error, AgenticGateway.OpenAi.Usage? Usage) RunStream(BedrockTranslator translator, ProviderCall call, byte[] input, Func<int, int> split)
    {
        var stream = translator.CreateChatStream(call);
        var output = new ArrayBufferWriter<byte>();
        try
        {
            for (var offset = 0; offset < input.Length;)
            {
                var take = Math.Min(Math.Max(1, split(offset)), input.Length - offset);
                stream.Feed(input.AsSpan(offset, take), output);
                offset += take;
            }
            stream.Complete(output);
            return (Encoding.UTF8.GetString(output.WrittenSpan), null, stream.Usage);
        }
        catch (ProviderStreamException ex)
        {
            return (Encoding.UTF8.GetString(output.WrittenSpan), ex.Error, stream.Usage);
        }
    }

    private static void AssertMeta(JsonObject meta, HttpRequestMessage request)
    {
        Assert.Equal(meta["method"]!.GetValue<string>(), request.Method.Method);
        Assert.Equal(meta["path"]!.GetValue<string>(), request.RequestUri!.AbsolutePath);
        Assert.Contains(meta["path"]!.GetValue<string>(), request.RequestUri.AbsoluteUri, StringComparison.Ordinal);
        foreach (var (name, value) in meta["headers"]!.AsObject())
            Assert.Equal(value!.GetValue<string>(), Header(request, name));
        if (meta["absent_headers"] is JsonArray absent)
            foreach (var name in absent) Assert.Null(Header(request, name!.GetValue<string>()));
    }

    internal static string? Header(HttpRequestMessage request, string name)
    {
        if (name == "host") return request.Headers.Host;
        if (request.Headers.TryGetValues(name, out var values)) return string.Join(",", values);
        if (request.Content?.Headers.TryGetValues(name, out var contentValues) == true) return string.Join(",", contentValues);
        return null;
    }

    private static void AssertError(JsonObject expected, ProviderError actual)
    {
        Assert.Equal(expected["status"]!.GetValue<int>(), actual.Status);
        Assert.Equal(expected["message"]!.GetValue<string>(), actual.Message);
        Assert.Equal(expected["code"]?.GetValue<string>(), actual.Code);
    }

    private static void AssertUsageMatches(JsonNode? expected, AgenticGateway.OpenAi.Usage? usage, bool unreported)
    {
        if (unreported) { Assert.Null(usage); return; }
        Assert.NotNull(usage);
        Assert.Equal(expected!["prompt_tokens"]!.GetValue<long>(), usage.Value.PromptTokens);
        Assert.Equal(expected["total_tokens"]!.GetValue<long>(), usage.Value.TotalTokens);
        if (expected["prompt_tokens_details"]?["cached_tokens"] is { } cached) Assert.Equal(cached.GetValue<long>(), usage.Value.CachedPromptTokens);
    }

    internal static void AssertJson(string expected, string actual, string what) => GoldenAssert.Json(expected, actual, what);

    internal static void AssertStream(string expected, string actual) => GoldenAssert.Stream(expected, actual);

    internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
