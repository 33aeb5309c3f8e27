using System.Buffers;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Routing;

namespace AgenticGateway.Caching;

/// <summary>
/// The exact cache key: SHA-256 (hex) of a canonical form of everything that changes the answer. Two requests that
/// differ only in member order, whitespace, or fields that never reach the answer (who asked, tags, metadata, cache
/// and guardrail controls, retry settings) get the same key; any other difference gives another key. The tenant and
/// the output guardrails in effect are part of it, so a key never names another tenant's answer or one filtered
/// differently.
/// </summary>
internal static class CacheKeys
{
    /// <summary>
    /// Top-level request members that do not change the answer. <c>model</c> is replaced by the model group the request
    /// resolved to (an alias and its target share entries); <c>stream</c> is keyed on its own.
    /// </summary>
    private static readonly FrozenSet<string> Ignored = new[]
    {
        "model", "stream", "user", "metadata", "litellm_metadata", "tags", "cache", "caching", "guardrails", "disable_global_guardrails",
        "num_retries", "timeout", "request_timeout", "fallbacks", "context_window_fallbacks", "litellm_trace_id", "litellm_session_id",
        "proxy_server_request", "secret_fields",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>LiteLLM's call type of an operation (its supported_call_types names); null for what is never cached.</summary>
    public static string? CallType(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions => "acompletion",
        LlmOperation.Completions => "atext_completion",
        LlmOperation.Embeddings => "aembedding",
        LlmOperation.Rerank => "arerank",
        // An Anthropic client's chat: cached with the chat completions (LiteLLM has no call type of its own for it in supported_call_types' list).
        LlmOperation.Messages => "acompletion",
        // Responses are stored under their own ids and chained by previous_response_id: a replayed answer would reuse an id.
        _ => null,
    };

    /// <summary>Whether the configured call types include <paramref name="callType"/> (LiteLLM lists sync and async names alike).</summary>
    public static bool Supports(CacheOptions options, string callType)
    {
        foreach (var t in options.SupportedCallTypes)
            if (t == callType || (callType.Length > 1 && callType[0] == 'a' && t.AsSpan().SequenceEqual(callType.AsSpan(1)))) return true;
        return false;
    }

    /// <summary>
    /// Whose answers <paramref name="caller"/> may be served: its team (else its key) by default, its key, or everyone.
    /// The master key and anonymous callers each have a partition of their own.
    /// </summary>
    public static string PartitionOf(Caller caller, CachePartition partition)
    {
        if (partition == CachePartition.Global) return "global";
        if (caller.Key is { } key)
            return partition == CachePartition.Team && key.TeamId is { Length: > 0 } team ? "team:" + team : "key:" + key.Token;
        return caller.IsAdmin ? "admin" : "anonymous";
    }

    /// <summary>
    /// The key of a request. <paramref name="ns"/> (the request's or the config's namespace) prefixes it as in LiteLLM
    /// (<c>namespace:hash</c>). Throws <see cref="JsonException"/> for a body that is not a JSON object (the payload
    /// step has already refused those) or has a string with a lone surrogate escape.
    /// </summary>
    public static string For(string? ns, string partition, LlmOperation operation, string callType, string modelGroup, ReadOnlyMemory<byte> body, bool stream,
        IReadOnlyList<string> outputGuardrails)
    {
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, body.Length + 128));
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Indented = false }))
        {
            w.WriteStartObject();
            // v2: the operation is keyed, not only the call type. Messages shares chat's call type, but its answer is in
            // Anthropic's format: the same body sent to /v1/messages and /v1/chat/completions must never share an entry.
            w.WriteString("v", "2");
            w.WriteString("namespace", ns ?? "");
            w.WriteString("partition", partition);
            w.WriteString("call_type", callType);
            w.WriteString("operation", operation.ToString());
            w.WriteString("model_group", modelGroup);
            w.WriteBoolean("stream", stream);
            w.WriteStartArray("output_guardrails");
            foreach (var g in outputGuardrails.Order(StringComparer.Ordinal)) w.WriteStringValue(g);
            w.WriteEndArray();
            w.WritePropertyName("request");
            // Parsed from the request's own buffer: no copy of the body per keyed request.
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("the request body is not a JSON object");
            try { WriteCanonical(w, doc.RootElement, top: true); }
            catch (InvalidOperationException e)
            {
                // A lone UTF-16 surrogate escape ("\ud800") is valid JSON syntax but no text: such a request is not keyed.
                throw new JsonException("the request body has a string that is not valid UTF-16", e);
            }
            w.WriteEndObject();
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
        return ns is { Length: > 0 } ? ns + ":" + hash : hash;
    }

    /// <summary>The value with object members in ordinal order (duplicates: the last wins, as JSON parsers read them) and numbers as written.</summary>
    private static void WriteCanonical(Utf8JsonWriter w, JsonElement e, bool top)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new SortedDictionary<string, JsonElement>(StringComparer.Ordinal);
                foreach (var p in e.EnumerateObject())
                    if (!top || !Ignored.Contains(p.Name)) members[p.Name] = p.Value;
                w.WriteStartObject();
                foreach (var (name, value) in members)
                {
                    w.WritePropertyName(name);
                    WriteCanonical(w, value, top: false);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray()) WriteCanonical(w, item, top: false);
                w.WriteEndArray();
                break;
            case JsonValueKind.String:
                // Unescaped first, so "\u0041" and "A" are the same text.
                w.WriteStringValue(e.GetString());
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }
}
