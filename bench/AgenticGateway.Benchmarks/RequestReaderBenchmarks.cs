using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;
using AgenticGateway.Routing;
using BenchmarkDotNet.Attributes;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// What every chat request costs before routing: the one-pass read of the body (<see cref="RequestReader.TryParse"/>)
/// and the prompt-token estimate reserved against token limits (<see cref="TokenEstimator.EstimatePromptTokens"/>).
/// </summary>
[MemoryDiagnoser]
public class RequestReaderBenchmarks
{
    private byte[] _body = [];

    /// <summary>A one-line question, and a tool-calling conversation with tool results (golden fixtures).</summary>
    [Params("plain_text", "tool_results_round_trip")]
    public string Request { get; set; } = "";

    [GlobalSetup]
    public void Setup() => _body = Fixtures.Bytes("anthropic", Request, "openai_request.json");

    [Benchmark]
    public int TryParse()
    {
        var error = RequestReader.TryParse(_body, LlmOperation.ChatCompletions, out var parsed);
        if (error is not null) throw new InvalidOperationException(error.Message);
        return parsed.ModelEnd;
    }

    [Benchmark]
    public long EstimatePromptTokens() => TokenEstimator.EstimatePromptTokens(_body);
}
