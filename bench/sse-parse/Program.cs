using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Text;
using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Providers.Translation;

// The gateway's SSE readers against System.Net.ServerSentEvents' SseParser, on the same bytes.
// A typical Anthropic stream: message_start, 18 text deltas, stops; fed in 512-byte chunks as a socket would.
var sb = new StringBuilder();
sb.Append("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n");
for (var i = 0; i < 18; i++) sb.Append($"event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n");
sb.Append("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":18}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
var bytes = Encoding.UTF8.GetBytes(sb.ToString());
const int N = 200_000;
int events = 0;
void Lines() { var r = new SseLineReader(); for (var o = 0; o < bytes.Length; o += 512) r.Feed(bytes.AsSpan(o, Math.Min(512, bytes.Length - o)), _ => events++); r.Flush(_ => events++); }
void Buffer() { var b = new SseEventBuffer(); for (var o = 0; o < bytes.Length; o += 512) { b.Append(bytes.AsSpan(o, Math.Min(512, bytes.Length - o))); while (b.TryTake(out var e)) { if (SseEventBuffer.Data(e).Length >= 0) events++; } } }
void Parser() { var p = SseParser.Create(new MemoryStream(bytes), static (type, data) => data.ToArray()); foreach (var item in p.Enumerate()) events++; }
async Task ParserAsync() { var p = SseParser.Create(new MemoryStream(bytes), static (type, data) => data.ToArray()); await foreach (var item in p.EnumerateAsync()) events++; }
Console.WriteLine($"{N} streams each, after a warm-up; allocation counted on this thread.");
foreach (var (name, run) in new (string, Func<Task>)[] { ("SseLineReader (push, data only)", () => { Lines(); return Task.CompletedTask; }), ("SseEventBuffer (push, raw events)", () => { Buffer(); return Task.CompletedTask; }), ("SseParser.Enumerate (pull, MemoryStream)", () => { Parser(); return Task.CompletedTask; }), ("SseParser.EnumerateAsync", ParserAsync) })
{
    for (var i = 0; i < 20_000; i++) await run();
    events = 0;
    var alloc = GC.GetAllocatedBytesForCurrentThread();
    var sw = Stopwatch.StartNew();
    for (var i = 0; i < N; i++) await run();
    sw.Stop();
    alloc = GC.GetAllocatedBytesForCurrentThread() - alloc;
    Console.WriteLine($"{name,-42} {sw.Elapsed.TotalMilliseconds * 1000 / N,7:F2} us/stream  {alloc / (double)N,8:F0} B/stream  ({events / N} events, {bytes.Length} bytes)");
}
