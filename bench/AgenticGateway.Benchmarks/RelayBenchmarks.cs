using System.Diagnostics;
using System.Text;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// The response relay: a whole OpenAI stream (200 content events, the usage event the gateway asked for, [DONE])
/// relayed by <see cref="ResponseRelay.StreamAsync"/> from a memory upstream to a client that discards it.
/// </summary>
[MemoryDiagnoser]
public class RelayBenchmarks
{
    private const int Events = 200;
    private BenchGateway _gateway = null!;
    private ResponseRelay _relay = null!;
    private LlmRequest _llm = null!;
    private DefaultHttpContext _http = null!;
    private byte[] _stream = [];

    /// <summary>Bytes a read from upstream: about one event (as tokens arrive), or a full buffer (a provider that batches).</summary>
    [Params(256, 16384)]
    public int ReadSize { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _gateway = new BenchGateway("  - {name: gpt-4o, provider: openai_compatible, api_base: \"http://127.0.0.1:9/v1\"}\n");
        _relay = _gateway.Get<ResponseRelay>();
        _llm = await _gateway.LlmRequestAsync("""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Write two hundred words."}]}"""u8.ToArray(), default);
        _http = new DefaultHttpContext();
        _http.Response.Body = Stream.Null;

        _stream = OpenAiStream();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _llm.Body.Dispose();
        await _gateway.DisposeAsync();
    }

    [Benchmark]
    public async Task<long> StreamAsync()
    {
        var deployment = _llm.Group.Deployments[0];
        var x = new LlmExchange(_http, _llm, Caller.Anonymous, "req-bench", Stopwatch.GetTimestamp()) { UsageInjected = true };
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StreamContent(new ChunkedStream(_stream, ReadSize)) };
        response.Content.Headers.ContentType = new("text/event-stream");
        using var attempt = new CancellationTokenSource();
        var failure = await _relay.StreamAsync(x, deployment, response, attempt, TimeSpan.FromSeconds(30), Stopwatch.GetTimestamp(), transform: null);
        if (failure is not null) throw new InvalidOperationException(failure.Message);
        return x.Usage?.TotalTokens ?? throw new InvalidOperationException("the usage event was not read");
    }

    /// <summary>An OpenAI chat stream: <see cref="Events"/> content events, the usage-only event, [DONE].</summary>
    internal static byte[] OpenAiStream()
    {
        var sse = new StringBuilder();
        for (var i = 0; i < Events; i++)
            sse.Append("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n");
        sse.Append("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":200,\"total_tokens\":214}}\n\n");
        sse.Append("data: [DONE]\n\n");
        return Encoding.UTF8.GetBytes(sse.ToString());
    }
}

/// <summary>
/// The scans the relay runs on what it reads: the last event boundary (every read of a stream), the usage-only event
/// the gateway asked for itself (every forward), and the usage of a buffered (non-stream) answer.
/// </summary>
[MemoryDiagnoser]
public class RelayScanBenchmarks
{
    private byte[] _window = [];
    private byte[] _answer = [];

    [GlobalSetup]
    public void Setup()
    {
        var stream = RelayBenchmarks.OpenAiStream();
        // What one read of a full 16 KB buffer holds: the stream's tail, usage event included, cut mid-event.
        var length = Math.Min(16384, stream.Length) - 7;
        _window = stream.AsSpan(stream.Length - 7 - length, length).ToArray();
        _answer = Fixtures.Bytes("anthropic", "plain_text", "openai_response.json");
    }

    [Benchmark]
    public int LastEventBoundary() => ResponseRelay.LastEventBoundary(_window, 0);

    [Benchmark]
    public int FindUsageOnlyEvent() => ResponseRelay.FindUsageOnlyEvent(_window, out var start, out var end) ? end - start : -1;

    [Benchmark]
    public long ReadBufferedUsage() => UsageReader.TryRead(_answer, out var usage) ? usage?.TotalTokens ?? 0 : -1;
}
