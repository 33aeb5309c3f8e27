using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// The provider emulator: speaks OpenAI's wire format (chat completions, responses, completions, embeddings, moderations, models) with
/// deterministic content, usage consistent with that content, configurable timing, and injected faults.
/// </summary>
internal sealed partial class MockEngine(MockSettings defaults, string? requiredApiKey = null, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly MockScript _script = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _byModel = new(StringComparer.Ordinal);
    private readonly AwaitableCount _requests = new();
    private readonly AwaitableCount _ended = new();
    private long _inFlight;
    private long _cancelled;
    private volatile RecordedRequest? _last;

    public MockScript Script => _script;
    public long RequestCount => _requests.Value;
    public long InFlight => Interlocked.Read(ref _inFlight);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    public RecordedRequest? LastRequest => _last;
    public long RequestsFor(string model) => _byModel.TryGetValue(model, out var n) ? n : 0;

    public void RecordCancelled() => Interlocked.Increment(ref _cancelled);

    /// <summary>Completes once the <paramref name="count"/>th API request has arrived: it is then in flight here.</summary>
    public Task WhenArrivedAsync(long count = 1) => _requests.WhenReachedAsync(count);

    /// <summary>Completes once <paramref name="count"/> API requests have ended here (answered, failed or cancelled).</summary>
    public Task WhenEndedAsync(long count) => _ended.WhenReachedAsync(count);

    /// <summary>The last API request as received, for tests that check what the gateway sent upstream.</summary>
    public sealed record RecordedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body);

    public async Task HandleAsync(IMockExchange exchange, CancellationToken cancellationToken)
    {
        var path = exchange.Path;
        if (path.StartsWith("/mock/", StringComparison.Ordinal))
        {
            await HandleControlAsync(exchange, cancellationToken);
            return;
        }
        Interlocked.Increment(ref _inFlight);
        try
        {
            _last = new RecordedRequest(exchange.Method, path, exchange.Query,
                exchange.RequestHeaders.GroupBy(h => h.Key.ToLowerInvariant()).ToDictionary(g => g.Key, g => g.First().Value),
                Encoding.UTF8.GetString(exchange.RequestBody.Span));
            // Counted once it is in flight and recorded, so that a test woken by WhenArrivedAsync sees both.
            _requests.Increment();
            await HandleApiAsync(exchange, path, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _cancelled);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _ended.Increment();
        }
    }

    private async Task HandleApiAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        // Other providers' wire formats (each checks its own auth header and writes its own error shape).
        if (await TryDialectAsync(exchange, path, cancellationToken)) return;
        if (requiredApiKey is not null && !Authorized(exchange))
        {
            await WriteErrorAsync(exchange, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key", null, cancellationToken);
            return;
        }

        if (exchange.Method == "GET" && (path.EndsWith("/models", StringComparison.Ordinal) || path.Contains("/models/", StringComparison.Ordinal)))
        {
            await WriteModelsAsync(exchange, path, cancellationToken);
            return;
        }
        if (exchange.Method != "POST")
        {
            await WriteErrorAsync(exchange, 404, $"Unknown route {exchange.Method} {path}", "invalid_request_error", "unknown_url", null, cancellationToken);
            return;
        }

        JsonDocument document;
        try { document = JsonDocument.Parse(exchange.RequestBody); }
        catch (JsonException ex)
        {
            await WriteErrorAsync(exchange, 400, $"We could not parse the JSON body of your request. ({ex.Message})", "invalid_request_error", null, null, cancellationToken);
            return;
        }
        using (document)
        {
            var body = document.RootElement;
            var model = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : null;
            var moderations = path.EndsWith("/moderations", StringComparison.Ordinal);
            // Moderations is the one OpenAI endpoint whose model is optional.
            if (moderations && body.ValueKind == JsonValueKind.Object) model ??= DefaultModerationModel;
            if (model is null)
            {
                await WriteErrorAsync(exchange, 400, "you must provide a model parameter", "invalid_request_error", null, null, cancellationToken);
                return;
            }

            var responses = path.EndsWith("/responses", StringComparison.Ordinal);
            var settings = defaults.WithHeaders(exchange);
            if (body.TryGetProperty("mock_fault", out var bodyFault) && bodyFault.ValueKind == JsonValueKind.String) settings = settings with { Fault = bodyFault.GetString() };
            if (await BeginAsync(model, settings, f => ApplyPreResponseFaultAsync(exchange, f, model, cancellationToken, responses ? "input" : "messages"), cancellationToken) is not { } fault) return;

            try
            {
                if (responses)
                    await ResponsesAsync(exchange, body, model, settings, fault, cancellationToken);
                else if (path.EndsWith("/chat/completions", StringComparison.Ordinal))
                    await ChatAsync(exchange, body, model, settings, fault, cancellationToken);
                else if (path.EndsWith("/completions", StringComparison.Ordinal))
                    await CompletionsAsync(exchange, body, model, settings, fault, cancellationToken);
                else if (path.EndsWith("/embeddings", StringComparison.Ordinal))
                    await EmbeddingsAsync(exchange, body, model, fault, cancellationToken);
                else if (moderations)
                    await ModerationsAsync(exchange, body, model, fault, cancellationToken);
                else
                    await WriteErrorAsync(exchange, 404, $"Unknown route POST {path}", "invalid_request_error", "unknown_url", null, cancellationToken);
            }
            catch (Exception ex) when (Unreadable(ex))
            {
                // OpenAI answers a field of the wrong type (or a string it cannot decode) with a 400. The emulator reads
                // fields loosely and before it writes anything, so what it did not expect ends here, as a 400 too.
                await WriteErrorAsync(exchange, 400, $"Invalid request body: {ex.Message}", "invalid_request_error", "invalid_type", null, cancellationToken);
            }
        }
    }

    /// <summary>What reading a request body of unexpected types throws (JsonElement's typed getters, parsing a field).</summary>
    private static bool Unreadable(Exception ex) => ex is InvalidOperationException or FormatException or KeyNotFoundException or ArgumentException;

    /// <summary>
    /// What every wire format does before answering: counts the request for its model, takes its fault (a scripted
    /// one first, else the settings'), waits the fault's delay, lets the format's <paramref name="preResponseFault"/>
    /// answer or drop it (then null), and waits the configured latency.
    /// </summary>
    private async Task<MockFault?> BeginAsync(string model, MockSettings settings, Func<MockFault, Task<bool>> preResponseFault, CancellationToken cancellationToken)
    {
        _byModel.AddOrUpdate(model, 1, static (_, n) => n + 1);
        var fault = _script.Take(model) ?? Parse(settings.Fault);
        if (fault.Delay > TimeSpan.Zero) await Task.Delay(fault.Delay, _time, cancellationToken);
        if (await preResponseFault(fault)) return null;
        if (settings.Latency > TimeSpan.Zero) await Task.Delay(settings.Latency, _time, cancellationToken);
        return fault;
    }

    private bool Authorized(IMockExchange exchange)
    {
        var auth = exchange.RequestHeader("authorization");
        if (auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal) && auth.AsSpan(7).SequenceEqual(requiredApiKey)) return true;
        return exchange.RequestHeader("api-key") == requiredApiKey;
    }

    private static MockFault Parse(string? spec) =>
        spec is not null && MockFault.TryParse(spec, out var fault, out _) ? fault : MockFault.None;

    /// <summary>Faults that replace the whole response. Returns true when the request was answered (or dropped).</summary>
    private async Task<bool> ApplyPreResponseFaultAsync(IMockExchange exchange, MockFault fault, string model, CancellationToken cancellationToken, string promptParam = "messages")
    {
        switch (fault.Kind)
        {
            case MockFaultKind.Reset:
                exchange.Abort();
                return true;
            case MockFaultKind.Timeout:
                await Task.Delay(Timeout.InfiniteTimeSpan, _time, cancellationToken);
                return true;
            case MockFaultKind.Status:
                if (fault.RetryAfterSeconds is { } ra) exchange.SetHeader("retry-after", ra.ToString(CultureInfo.InvariantCulture));
                var (type, code, message) = fault.Status switch
                {
                    429 => ("requests", "rate_limit_exceeded", $"Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in {fault.RetryAfterSeconds ?? 1}s."),
                    401 => ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
                    404 => ("invalid_request_error", "model_not_found", $"The model `{model}` does not exist or you do not have access to it."),
                    400 => ("invalid_request_error", (string?)null, "Invalid request."),
                    503 => ("server_error", (string?)null, "The server is overloaded or not ready yet."),
                    _ => ("server_error", (string?)null, "The server had an error while processing your request. Sorry about that!"),
                };
                await WriteErrorAsync(exchange, fault.Status, fault.Message ?? message, type, code, null, cancellationToken);
                return true;
            case MockFaultKind.ContextWindow:
                await WriteErrorAsync(exchange, 400, fault.Message ?? "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.",
                    "invalid_request_error", "context_length_exceeded", promptParam, cancellationToken);
                return true;
            case MockFaultKind.ContentPolicy:
                await WriteErrorAsync(exchange, 400, fault.Message ?? "Your request was rejected as a result of our safety system.",
                    "invalid_request_error", "content_policy_violation", null, cancellationToken);
                return true;
            case MockFaultKind.Malformed:
                exchange.SetStatus(200);
                exchange.SetHeader("content-type", "application/json");
                await exchange.WriteAsync("{\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"u8.ToArray(), cancellationToken);
                await exchange.FlushAsync(cancellationToken);
                return true;
            default:
                return false;
        }
    }

    private async Task HandleControlAsync(IMockExchange exchange, CancellationToken cancellationToken)
    {
        // POST /mock/faults {"fault":"status=500","count":2,"model":"gpt-4o"}; DELETE /mock/faults; GET /mock/stats
        if (exchange.Path == "/mock/faults" && exchange.Method == "POST")
        {
            try
            {
                using var doc = JsonDocument.Parse(exchange.RequestBody);
                var root = doc.RootElement;
                var spec = root.GetProperty("fault").GetString() ?? "";
                if (!MockFault.TryParse(spec, out var fault, out var error)) throw new FormatException(error);
                var count = root.TryGetProperty("count", out var c) ? c.GetInt32() : 1;
                var model = root.TryGetProperty("model", out var mm) ? mm.GetString() : null;
                _script.Add(model, fault, count);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                await WriteErrorAsync(exchange, 400, ex.Message, "invalid_request_error", null, null, cancellationToken);
                return;
            }
            await WriteJsonAsync(exchange, 200, w => { w.WriteStartObject(); w.WriteBoolean("ok", true); w.WriteEndObject(); }, cancellationToken);
            return;
        }
        if (exchange.Path == "/mock/faults" && exchange.Method == "DELETE")
        {
            _script.Clear();
            await WriteJsonAsync(exchange, 200, w => { w.WriteStartObject(); w.WriteBoolean("ok", true); w.WriteEndObject(); }, cancellationToken);
            return;
        }
        if (exchange.Path == "/mock/stats")
        {
            await WriteJsonAsync(exchange, 200, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("requests", RequestCount);
                w.WriteNumber("in_flight", InFlight);
                w.WriteNumber("cancelled", Cancelled);
                w.WriteStartObject("by_model");
                foreach (var (model, count) in _byModel) w.WriteNumber(model, count);
                w.WriteEndObject();
                w.WriteEndObject();
            }, cancellationToken);
            return;
        }
        if (exchange.Path == "/mock/last_request" && _last is { } last)
        {
            await WriteJsonAsync(exchange, 200, w =>
            {
                w.WriteStartObject();
                w.WriteString("method", last.Method);
                w.WriteString("path", last.Path);
                w.WriteString("query", last.Query);
                w.WriteStartObject("headers");
                foreach (var (k, v) in last.Headers) w.WriteString(k, k is "authorization" or "api-key" ? "(redacted)" : v);
                w.WriteEndObject();
                w.WriteString("body", last.Body);
                w.WriteEndObject();
            }, cancellationToken);
            return;
        }
        await WriteErrorAsync(exchange, 404, "unknown control route", "invalid_request_error", null, null, cancellationToken);
    }

    private async Task WriteModelsAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        var slash = path.LastIndexOf("/models/", StringComparison.Ordinal);
        var single = slash >= 0 ? path[(slash + "/models/".Length)..] : null;
        var created = _time.GetUtcNow().ToUnixTimeSeconds();
        await WriteJsonAsync(exchange, 200, w =>
        {
            if (single is not null) { WriteModel(w, Uri.UnescapeDataString(single), created); return; }
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var id in new[] { "mock-gpt", "gpt-4o", "gpt-4o-mini", "text-embedding-3-small" }) WriteModel(w, id, created);
            w.WriteEndArray();
            w.WriteEndObject();
        }, cancellationToken);

        static void WriteModel(Utf8JsonWriter w, string id, long created)
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "model");
            w.WriteNumber("created", created);
            w.WriteString("owned_by", "mock");
            w.WriteEndObject();
        }
    }

    internal static async Task WriteErrorAsync(IMockExchange exchange, int status, string message, string type, string? code, string? param, CancellationToken cancellationToken)
    {
        await WriteJsonAsync(exchange, status, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            if (param is null) w.WriteNull("param"); else w.WriteString("param", param);
            if (code is null) w.WriteNull("code"); else w.WriteString("code", code);
            w.WriteEndObject();
            w.WriteEndObject();
        }, cancellationToken);
    }

    private static async Task WriteJsonAsync(IMockExchange exchange, int status, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        exchange.SetStatus(status);
        exchange.SetHeader("content-type", "application/json");
        exchange.SetHeader("content-length", buffer.WrittenCount.ToString(CultureInfo.InvariantCulture));
        await exchange.WriteAsync(buffer.WrittenMemory, cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// A response id unique to this answer, as providers give: the content stays a function of the request, but two
    /// identical requests are two responses, and clients (and the gateway's spend logs) tell them apart by id.
    /// </summary>
    internal static string NewId(string prefix) =>
        prefix + System.Security.Cryptography.RandomNumberGenerator.GetHexString(16, lowercase: true);

    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    // Hand-written SSE, not SseFormatter: events go out one write and flush each through IMockExchange (an in-process pipe or Kestrel) with faults and delays between them, and Gemini's end in CRLF, which SseFormatter (LF only, from an IAsyncEnumerable to a Stream) cannot write.
    /// <summary>Writes one SSE event and flushes it at once: providers send each chunk as its own write.</summary>
    private static async ValueTask WriteEventAsync(IMockExchange exchange, ArrayBufferWriter<byte> json, CancellationToken cancellationToken)
    {
        var frame = new byte[DataPrefix.Length + json.WrittenCount + EventEnd.Length];
        DataPrefix.CopyTo(frame, 0);
        json.WrittenSpan.CopyTo(frame.AsSpan(DataPrefix.Length));
        EventEnd.CopyTo(frame, DataPrefix.Length + json.WrittenCount);
        await exchange.WriteAsync(frame, cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    /// <summary>An SSE response: its headers, sent at once, then the configured time to first token.</summary>
    private Task StartStreamAsync(IMockExchange exchange, MockSettings settings, CancellationToken cancellationToken)
    {
        exchange.SetStatus(200);
        exchange.SetHeader("content-type", "text/event-stream; charset=utf-8");
        exchange.SetHeader("cache-control", "no-cache");
        return FirstTokenAsync(exchange, settings, cancellationToken);
    }

    /// <summary>Sends the headers set so far, then waits the configured time to first token (every streamed dialect).</summary>
    private async Task FirstTokenAsync(IMockExchange exchange, MockSettings settings, CancellationToken cancellationToken)
    {
        await exchange.FlushAsync(cancellationToken);
        if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
    }

    private static TimeSpan TokenDelay(MockSettings s) => s.TokensPerSecond > 0 ? TimeSpan.FromSeconds(1 / s.TokensPerSecond) : TimeSpan.Zero;

    private static int? IntField(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    private static bool BoolField(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
