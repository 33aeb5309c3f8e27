using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Metering;

/// <summary>
/// Reads token usage from provider answers that pass through the gateway untranslated (the provider pass-through routes,
/// the edge's token metering), as their bytes go by: the caller forwards each chunk and hands the same chunk here, so
/// nothing is held back from the client. An event stream is read event by event (only the incomplete last one is kept);
/// a JSON body is copied aside up to <see cref="MaxJsonBytes"/> and read when it ends (a larger one is not metered).
/// Understands the usage shapes of OpenAI (chat, completions, embeddings, Responses), Anthropic (message_start and
/// message_delta), Gemini (usageMetadata), Cohere v2 (usage.tokens, billed_units) and Bedrock Converse (inputTokens).
/// </summary>
internal sealed class UsageScanner
{
    /// <summary>The largest JSON answer read for usage: beyond it (a big embeddings batch, a file) the copy is dropped.</summary>
    public const int MaxJsonBytes = 8 * 1024 * 1024;

    private readonly SseEventBuffer? _events;
    private byte[]? _json;
    private int _jsonLength;
    private bool _off;
    private long _prompt = -1, _completion = -1, _cached, _reasoning;
    private long _anthropicInput = -1, _cacheRead, _cacheWrite;

    private UsageScanner(bool sse)
    {
        if (sse) _events = new SseEventBuffer();
        else _json = new byte[4096];
    }

    /// <summary>A scanner for an answer of this content type, or null when it is neither JSON nor an event stream.</summary>
    public static UsageScanner? For(string? contentType)
    {
        if (contentType is null) return null;
        if (contentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase)) return new UsageScanner(sse: true);
        // application/json, application/json; charset=utf-8, application/vnd.x+json, application/x-ndjson is not one answer.
        var semi = contentType.IndexOf(';');
        var media = (semi < 0 ? contentType : contentType[..semi]).Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            ? new UsageScanner(sse: false) : null;
    }

    /// <summary>The model the answer names (<c>model</c>, Gemini's <c>modelVersion</c>), when it names one.</summary>
    public string? Model { get; private set; }

    /// <summary>Whether any usage was read.</summary>
    public bool Found => _prompt >= 0 || _completion >= 0;

    public Usage? Usage => Found
        ? new Usage(Math.Max(0, _prompt), Math.Max(0, _completion)) { CachedPromptTokens = _cached, ReasoningTokens = _reasoning }
        : null;

    /// <summary>Reads the next bytes of the answer (exactly as they were forwarded).</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (_off || data.IsEmpty) return;
        if (_events is not null)
        {
            try { _events.Append(data); }
            catch (InvalidDataException)
            {
                // An event larger than the buffer allows: the stream still flows, it is just not metered further.
                _off = true;
                return;
            }
            while (_events.TryTake(out var evt)) ReadEvent(evt);
            return;
        }
        if (_jsonLength + data.Length > MaxJsonBytes)
        {
            _off = true;
            _json = null;
            return;
        }
        if (_jsonLength + data.Length > _json!.Length) Array.Resize(ref _json, Math.Min(MaxJsonBytes, Math.Max(_json.Length * 2, _jsonLength + data.Length)));
        data.CopyTo(_json.AsSpan(_jsonLength));
        _jsonLength += data.Length;
    }

    /// <summary>The answer ended: reads what is left (the JSON body, an event without its blank line).</summary>
    public void Complete()
    {
        if (_off) return;
        if (_events is not null)
        {
            var rest = _events.TakeRest();
            if (!rest.IsEmpty) ReadEvent(rest);
            return;
        }
        ReadDocument(_json.AsSpan(0, _jsonLength));
        _json = null;
        _off = true;
    }

    private void ReadEvent(ReadOnlySpan<byte> evt)
    {
        var data = SseEventBuffer.Data(evt);
        // Most events of a long answer carry text only: parsed only when they may hold what is read here.
        if (data.IsEmpty || data[0] != (byte)'{') return;
        if (data.IndexOf("usage"u8) < 0 && (Model is not null || data.IndexOf("odel"u8) < 0)) return;
        ReadDocument(data);
    }

    private void ReadDocument(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty) return;
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(json);
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return;
            Read(root);
            // Anthropic's message_start, the Responses stream's response.* events, Cohere's message-end.
            foreach (var inner in (ReadOnlySpan<string>)["message", "response", "delta"])
                if (root.TryGetProperty(inner, out var nested) && nested.ValueKind == JsonValueKind.Object) Read(nested);
        }
    }

    private void Read(JsonElement e)
    {
        if (Model is null)
        {
            if (e.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String) Model = m.GetString();
            else if (e.TryGetProperty("modelVersion", out var v) && v.ValueKind == JsonValueKind.String) Model = v.GetString();
        }
        if (e.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object) ReadUsage(usage);
        if (e.TryGetProperty("usageMetadata", out var gemini) && gemini.ValueKind == JsonValueKind.Object) ReadGemini(gemini);
    }

    private void ReadUsage(JsonElement u)
    {
        // Cohere v2: tokens (what the model processed) over billed_units (what is billed), both input/output_tokens.
        if (u.TryGetProperty("tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Object) u = tokens;
        else if (u.TryGetProperty("billed_units", out var billed) && billed.ValueKind == JsonValueKind.Object && !u.TryGetProperty("input_tokens", out _)) u = billed;

        if (Number(u, "prompt_tokens") is { } prompt) _prompt = prompt;
        if (Number(u, "completion_tokens") is { } completion) _completion = completion;
        if (Number(u, "inputTokens") is { } bedrockIn) _prompt = bedrockIn;
        if (Number(u, "outputTokens") is { } bedrockOut) _completion = bedrockOut;
        if (Number(u, "cacheReadInputTokens") is { } bedrockCached) _cached = bedrockCached;
        if (Number(u, "output_tokens") is { } output) _completion = output;

        // Anthropic's input_tokens leaves out cache reads and writes, which it reports beside it; OpenAI's Responses
        // input_tokens includes its cached tokens (input_tokens_details). The gateway's prompt tokens include both, as
        // OpenAI's do, so one price applies whatever the provider.
        var anthropicCache = false;
        if (Number(u, "cache_read_input_tokens") is { } read) { _cacheRead = read; anthropicCache = true; }
        if (Number(u, "cache_creation_input_tokens") is { } write) { _cacheWrite = write; anthropicCache = true; }
        if (Number(u, "input_tokens") is { } input)
        {
            _anthropicInput = input;
            _prompt = input;
        }
        if ((anthropicCache || _cacheRead > 0 || _cacheWrite > 0) && _anthropicInput >= 0)
        {
            _prompt = _anthropicInput + _cacheRead + _cacheWrite;
            _cached = _cacheRead;
        }

        if ((Details(u, "prompt_tokens_details", "cached_tokens") ?? Details(u, "input_tokens_details", "cached_tokens")) is { } cached) _cached = cached;
        if ((Details(u, "completion_tokens_details", "reasoning_tokens") ?? Details(u, "output_tokens_details", "reasoning_tokens")) is { } reasoning) _reasoning = reasoning;
        // Embeddings answers report prompt_tokens and total_tokens only.
        if (_prompt >= 0 && _completion < 0 && Number(u, "total_tokens") is not null) _completion = 0;
    }

    private void ReadGemini(JsonElement u)
    {
        // Gemini repeats the running totals in each streamed chunk: the last one holds.
        if (Number(u, "promptTokenCount") is { } prompt) _prompt = prompt;
        var candidates = Number(u, "candidatesTokenCount");
        var thoughts = Number(u, "thoughtsTokenCount");
        if (candidates is not null || thoughts is not null) _completion = (candidates ?? 0) + (thoughts ?? 0);
        if (thoughts is { } t) _reasoning = t;
        if (Number(u, "cachedContentTokenCount") is { } cached) _cached = cached;
    }

    private static long? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0 ? n : null;

    private static long? Details(JsonElement e, string details, string name) =>
        e.TryGetProperty(details, out var d) && d.ValueKind == JsonValueKind.Object ? Number(d, name) : null;
}
