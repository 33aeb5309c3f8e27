using System.Buffers;
using AgenticGateway.Configuration;
using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Google;
using AgenticGateway.Providers.Translation;
using BenchmarkDotNet.Attributes;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// The provider translators over their golden fixtures: an OpenAI request with tool calls and results written as the
/// provider's request (Bedrock's signed with SigV4), a provider answer read back as OpenAI's, and a provider stream
/// (SSE, or AWS event-stream frames) turned into OpenAI events, fed in 64-byte pieces as a network delivers it.
/// </summary>
[MemoryDiagnoser]
public class TranslatorBenchmarks
{
    private const int Piece = 64;
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private IProviderTranslator _translator = null!;
    private ProviderCall _call;
    private ProviderCall _streamCall;
    private byte[] _request = [];
    private byte[] _answer = [];
    private byte[] _stream = [];
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);

    [Params("anthropic", "gemini", "bedrock")]
    public string Provider { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var time = new FixedTime(Now);
        DeploymentOptions deployment;
        switch (Provider)
        {
            case "anthropic":
                _translator = new AnthropicTranslator(new AnthropicHeaders(null, null), time);
                deployment = Deployment("anthropic", "claude-sonnet-4-5-20250929", "https://api.anthropic.com", "sk-ant-bench", CloudOptions.None);
                (_request, _answer, _stream) = (Fixtures.Bytes(Provider, "tool_results_round_trip", "openai_request.json"),
                    Fixtures.Bytes(Provider, "plain_text", "provider_response.json"), Fixtures.Bytes(Provider, "plain_text_stream", "provider_stream.txt"));
                break;
            case "gemini":
                _translator = new GeminiTranslator(time);
                deployment = Deployment("gemini", "gemini-2.5-flash", "https://generativelanguage.googleapis.com", "bench-key", CloudOptions.None);
                (_request, _answer, _stream) = (Fixtures.Bytes(Provider, "tool_results_roundtrip", "openai_request.json"),
                    Fixtures.Bytes(Provider, "text_basic", "provider_response.json"), Fixtures.Bytes(Provider, "stream_text", "provider_stream.txt"));
                break;
            default:
                _translator = new BedrockTranslator(time: time);
                deployment = Deployment("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "https://bedrock-runtime.us-east-1.amazonaws.com", null, new CloudOptions
                {
                    AwsRegion = "us-east-1", AwsAccessKeyId = new Secret("AKIDEXAMPLE"), AwsSecretAccessKey = new Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                });
                (_request, _answer, _stream) = (Fixtures.Bytes(Provider, "tool_results_round_trip", "openai_request.json"),
                    Fixtures.Bytes(Provider, "plain_text", "provider_response.json"), Convert.FromHexString(Fixtures.Text(Provider, "stream_text", "provider_stream.hex").Trim()));
                break;
        }
        _call = new ProviderCall(deployment, deployment.Model, Stream: false, IncludeUsage: false, "req-bench");
        _streamCall = _call with { Stream = true, IncludeUsage = true };
    }

    [Benchmark]
    public async Task<long> WriteRequest()
    {
        var translated = await _translator.BuildChatRequestAsync(_request, _call, CancellationToken.None);
        using var request = translated.Request ?? throw new InvalidOperationException(translated.Error!.Message);
        return request.Content!.Headers.ContentLength ?? 0;
    }

    [Benchmark]
    public int ReadResponse() => _translator.TranslateChatResponse(_answer, _call, out _).Length;

    [Benchmark]
    public int TranslateStream()
    {
        _output.ResetWrittenCount();
        var stream = _translator.CreateChatStream(_streamCall);
        for (var offset = 0; offset < _stream.Length; offset += Piece)
            stream.Feed(_stream.AsSpan(offset, Math.Min(Piece, _stream.Length - offset)), _output);
        stream.Complete(_output);
        return _output.WrittenCount;
    }

    private static DeploymentOptions Deployment(string provider, string model, string apiBase, string? apiKey, CloudOptions cloud) => new()
    {
        Id = "bench", ModelName = "bench", Provider = provider, Model = model, ApiBase = new Uri(apiBase), ApiKey = new Secret(apiKey), Cloud = cloud,
    };

    /// <summary>A fixed clock, as the golden tests use: the same request is signed the same way every time.</summary>
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
