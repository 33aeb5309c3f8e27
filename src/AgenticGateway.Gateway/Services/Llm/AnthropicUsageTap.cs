using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Reads token usage from Anthropic's own answers when they are passed through unchanged (an Anthropic-format client
/// on an Anthropic deployment). Anthropic's <c>input_tokens</c> excludes cache reads and writes; the gateway's
/// prompt tokens include both, as OpenAI's do, so prices apply the same way whatever the provider.
/// </summary>
internal static class AnthropicNativeUsage
{
    /// <summary>Usage from a whole Message body; false when the body is not valid JSON.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out Usage? usage)
    {
        usage = null;
        try
        {
            var reader = new Utf8JsonReader(message);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("usage", out var u)) usage = From(u, null);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Merges a usage object into what is known: message_start carries the input side, message_delta the output
    /// (cumulative), and a later value replaces an earlier one field by field.
    /// </summary>
    public static Usage From(JsonElement u, Usage? known)
    {
        if (u.ValueKind != JsonValueKind.Object) return known ?? default;
        long Field(string name, long fallback) => u.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : fallback;
        var k = known ?? default;
        var cacheRead = Field("cache_read_input_tokens", k.CachedPromptTokens);
        var input = Field("input_tokens", -1);
        var cacheWrite = Field("cache_creation_input_tokens", -1);
        long prompt;
        if (input < 0 && cacheWrite < 0 && !u.TryGetProperty("cache_read_input_tokens", out _)) prompt = k.PromptTokens;
        else prompt = Math.Max(0, input) + cacheRead + Math.Max(0, cacheWrite);
        return new Usage(prompt, Field("output_tokens", k.CompletionTokens)) { CachedPromptTokens = cacheRead };
    }
}

/// <summary>
/// Passes an Anthropic event stream through byte for byte (each event as soon as it is complete) while reading the
/// usage from message_start and message_delta.
/// </summary>
internal sealed class AnthropicUsageTap : IStreamTranslator
{
    private readonly SseEventBuffer _events = new();

    public Usage? Usage { get; private set; }

    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        _events.Append(data);
        while (_events.TryTake(out var evt))
        {
            ReadUsage(evt);
            output.Write(evt);
        }
    }

    public void Complete(IBufferWriter<byte> output)
    {
        // Whatever is left is an event without its blank line: pass it on, the client decides.
        var rest = _events.TakeRest();
        if (!rest.IsEmpty)
        {
            ReadUsage(rest);
            output.Write(rest);
        }
    }

    private void ReadUsage(ReadOnlySpan<byte> evt)
    {
        // Only these two events carry usage; skip the parse for the many deltas.
        if (evt.IndexOf("\"usage\""u8) < 0) return;
        var data = SseEventBuffer.Data(evt);
        if (data.IsEmpty) return;
        try
        {
            using var doc = JsonDocument.Parse(data.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type)) return;
            if (type.ValueEquals("message_start") && root.TryGetProperty("message", out var m) && m.TryGetProperty("usage", out var u1)) Usage = AnthropicNativeUsage.From(u1, Usage);
            else if (type.ValueEquals("message_delta") && root.TryGetProperty("usage", out var u2)) Usage = AnthropicNativeUsage.From(u2, Usage);
        }
        catch (JsonException)
        {
            // Not ours to judge: the event goes to the client as it came.
        }
    }
}
