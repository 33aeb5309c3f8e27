using System.Buffers;
using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>
/// Converts an Anthropic Messages request (<c>POST /v1/messages</c>) into an OpenAI chat completions body, so an
/// Anthropic-format client (Claude Code, the Anthropic SDKs) can use any deployment the gateway routes to.
/// </summary>
/// <remarks>
/// <para>Validation follows what Anthropic itself rejects: <c>model</c>, <c>max_tokens</c> (an integer of at least 1)
/// and <c>messages</c> (a non-empty list of <c>user</c>/<c>assistant</c> turns, or mid-conversation <c>system</c>
/// turns, whose content is a string or a list of blocks) are required. Errors are 400 <c>invalid_request_error</c> with the field path in <c>Param</c>, ready for
/// <see cref="AnthropicErrors"/>.</para>
/// <para>Mapping (the same as LiteLLM's <c>/v1/messages</c> adapter where it has one): <c>system</c> becomes the
/// system message; <c>stop_sequences</c> becomes <c>stop</c>; <c>metadata.user_id</c> becomes <c>user</c>;
/// <c>stream</c> adds <c>stream_options.include_usage</c> (Anthropic streams always report usage);
/// <c>temperature</c>, <c>top_p</c> and <c>max_tokens</c> keep their names; <c>top_k</c> is kept as an extra field
/// (LiteLLM, vLLM and Gemini/Bedrock translators read it; OpenAI itself has none). <c>thinking</c> is kept as is for
/// LiteLLM-style backends and also read into <c>reasoning_effort</c> by LiteLLM's thresholds (budget below 2048 low,
/// below 4096 medium, else high; <c>adaptive</c> medium); <c>output_config.effort</c> (low/medium/high) takes precedence.
/// Structured output (<c>output_format</c> or <c>output_config.format</c>, a <c>json_schema</c>) becomes
/// <c>response_format</c>. <c>cache_control</c> is dropped everywhere: prompt caching is the provider's business.</para>
/// <para>Top-level fields the converter does not know are passed through (new OpenAI-compatible parameters keep
/// working). Anthropic-only fields an OpenAI server would reject or misread are dropped: <c>service_tier</c>
/// (different values), <c>container</c>, <c>context_management</c>, <c>anthropic_version</c>, <c>anthropic_beta</c>,
/// <c>betas</c>, <c>inference_geo</c>, and the top-level <c>cache_control</c>, <c>speed</c>, <c>diagnostics</c>,
/// <c>user_profile_id</c> and <c>workspace_id</c> (fields of the Anthropic SDK's request type). <c>mcp_servers</c> is refused when not empty: its tools would silently vanish.</para>
/// </remarks>
internal static class AnthropicRequestConverter
{
    /// <summary>Fields read and written under another name (or refused), never copied.</summary>
    private static readonly HashSet<string> Translated =
    [
        "model", "messages", "system", "max_tokens", "stop_sequences", "stream", "metadata", "tools", "tool_choice",
        "thinking", "output_format", "output_config", "mcp_servers",
        // Anthropic-only: an OpenAI server would reject or misread them.
        "service_tier", "container", "context_management", "anthropic_version", "anthropic_beta", "betas", "inference_geo",
        "cache_control", "speed", "diagnostics", "user_profile_id", "workspace_id",
    ];

    /// <summary>
    /// Converts <paramref name="anthropicBody"/>; returns null and the OpenAI body, or the error to send back (in which
    /// case <paramref name="openAiBody"/> is empty).
    /// </summary>
    public static ApiError? ToOpenAi(ReadOnlySpan<byte> anthropicBody, out byte[] openAiBody) => ToOpenAi(anthropicBody, out openAiBody, forTokenCount: false);

    /// <summary>
    /// As <see cref="ToOpenAi(ReadOnlySpan{byte}, out byte[])"/>; a <c>count_tokens</c> body (which has no
    /// <c>max_tokens</c>) is converted with <paramref name="forTokenCount"/> set.
    /// </summary>
    internal static ApiError? ToOpenAi(ReadOnlySpan<byte> anthropicBody, out byte[] openAiBody, bool forTokenCount)
    {
        openAiBody = [];
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(anthropicBody.ToArray());
        }
        catch (JsonException e)
        {
            return new ApiError(400, $"The request body is not valid JSON: {e.Message}", "invalid_request_error");
        }
        using (document)
        {
            try
            {
                openAiBody = Convert(document.RootElement, forTokenCount);
                return null;
            }
            catch (InboundRequestException e)
            {
                return e.Error;
            }
        }
    }

    private static byte[] Convert(JsonElement root, bool forTokenCount)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new InboundRequestException("The request body must be a JSON object.", null);
        var model = RequiredString(root, "model");
        var maxTokens = forTokenCount ? 0 : MaxTokens(root);
        if (!root.TryGetProperty("messages", out var messages)) throw new InboundRequestException("messages: Field required", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw new InboundRequestException("messages: Input should be a valid list", "messages");
        if (messages.GetArrayLength() == 0) throw new InboundRequestException("messages: at least one message is required", "messages");
        if (root.TryGetProperty("mcp_servers", out var mcp) && mcp.ValueKind == JsonValueKind.Array && mcp.GetArrayLength() > 0)
            throw new InboundRequestException("mcp_servers: MCP servers are not supported on this deployment.", "mcp_servers");

        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WritePropertyName("messages");
            w.WriteStartArray();
            if (root.TryGetProperty("system", out var system)) AnthropicMessageConverter.WriteSystem(w, system);
            var i = 0;
            foreach (var message in messages.EnumerateArray()) AnthropicMessageConverter.WriteMessage(w, message, i++);
            w.WriteEndArray();
            if (!forTokenCount) w.WriteNumber("max_tokens", maxTokens);
            WriteStop(w, root);
            WriteStream(w, root);
            WriteUser(w, root);
            AnthropicToolConverter.Write(w, root);
            WriteReasoning(w, root);
            WriteResponseFormat(w, root);
            foreach (var property in root.EnumerateObject())
            {
                if (Translated.Contains(property.Name)) continue;
                property.WriteTo(w);
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static string RequiredString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            throw new InboundRequestException($"{name}: Field required", name);
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
            throw new InboundRequestException($"{name}: Input should be a non-empty string", name);
        return text;
    }

    private static long MaxTokens(JsonElement root)
    {
        if (!root.TryGetProperty("max_tokens", out var value) || value.ValueKind == JsonValueKind.Null)
            throw new InboundRequestException("max_tokens: Field required", "max_tokens");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n))
            throw new InboundRequestException("max_tokens: Input should be a valid integer", "max_tokens");
        if (n < 1) throw new InboundRequestException("max_tokens: Input should be greater than or equal to 1", "max_tokens");
        return n;
    }

    private static void WriteStop(Utf8JsonWriter w, JsonElement root)
    {
        if (!root.TryGetProperty("stop_sequences", out var stops) || stops.ValueKind == JsonValueKind.Null) return;
        if (stops.ValueKind != JsonValueKind.Array) throw new InboundRequestException("stop_sequences: Input should be a valid list", "stop_sequences");
        if (stops.GetArrayLength() == 0) return;
        w.WritePropertyName("stop");
        w.WriteStartArray();
        foreach (var stop in stops.EnumerateArray())
        {
            if (stop.ValueKind != JsonValueKind.String) throw new InboundRequestException("stop_sequences: Input should be a list of strings", "stop_sequences");
            w.WriteStringValue(stop.GetString());
        }
        w.WriteEndArray();
    }

    private static void WriteStream(Utf8JsonWriter w, JsonElement root)
    {
        if (!root.TryGetProperty("stream", out var stream) || stream.ValueKind == JsonValueKind.Null) return;
        if (stream.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw new InboundRequestException("stream: Input should be a valid boolean", "stream");
        if (stream.ValueKind == JsonValueKind.False) return;
        w.WriteBoolean("stream", true);
        w.WriteStartObject("stream_options");
        w.WriteBoolean("include_usage", true);
        w.WriteEndObject();
    }

    private static void WriteUser(Utf8JsonWriter w, JsonElement root)
    {
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
            && metadata.TryGetProperty("user_id", out var user) && user.ValueKind == JsonValueKind.String)
            w.WriteString("user", user.GetString());
    }

    private static void WriteReasoning(Utf8JsonWriter w, JsonElement root)
    {
        string? effort = null;
        if (root.TryGetProperty("thinking", out var thinking) && thinking.ValueKind == JsonValueKind.Object)
        {
            thinking.TryGetProperty("type", out var type);
            if (type.ValueKind == JsonValueKind.String && type.ValueEquals("enabled"))
            {
                if (!thinking.TryGetProperty("budget_tokens", out var budget) || budget.ValueKind == JsonValueKind.Null)
                    throw new InboundRequestException("thinking.enabled.budget_tokens: Field required", "thinking.budget_tokens");
                if (!JsonValues.TryInt64(budget, out var tokens))
                    throw new InboundRequestException("thinking.enabled.budget_tokens: Input should be a valid integer", "thinking.budget_tokens");
                effort = EffortForBudget(tokens);
            }
            else if (type.ValueKind == JsonValueKind.String && type.ValueEquals("adaptive"))
            {
                effort = "medium";
            }
            w.WritePropertyName("thinking");
            thinking.WriteTo(w);
        }
        if (root.TryGetProperty("output_config", out var config) && config.ValueKind == JsonValueKind.Object
            && config.TryGetProperty("effort", out var explicitEffort) && explicitEffort.ValueKind == JsonValueKind.String
            && explicitEffort.GetString() is "low" or "medium" or "high" && !(effort is null && IsDisabled(thinking)))
            effort = explicitEffort.GetString();
        if (effort is not null) w.WriteString("reasoning_effort", effort);
    }

    private static bool IsDisabled(JsonElement thinking) =>
        thinking.ValueKind == JsonValueKind.Object && thinking.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.ValueEquals("disabled");

    /// <summary>LiteLLM's thresholds (<c>DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET</c>: 1024, 2048, 4096), so a budget maps back to the effort the gateway's Anthropic translator turns into it.</summary>
    internal static string EffortForBudget(long budgetTokens) => budgetTokens switch
    {
        >= 4096 => "high",
        >= 2048 => "medium",
        _ => "low",
    };

    private static void WriteResponseFormat(Utf8JsonWriter w, JsonElement root)
    {
        if (!root.TryGetProperty("output_format", out var format) || format.ValueKind != JsonValueKind.Object)
        {
            if (!root.TryGetProperty("output_config", out var config) || config.ValueKind != JsonValueKind.Object
                || !config.TryGetProperty("format", out format) || format.ValueKind != JsonValueKind.Object)
                return;
        }
        if (!format.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || !type.ValueEquals("json_schema") || !format.TryGetProperty("schema", out var schema))
            throw new InboundRequestException("output_format: only {\"type\":\"json_schema\",\"schema\":{...}} is supported", "output_format");
        w.WriteStartObject("response_format");
        w.WriteString("type", "json_schema");
        w.WriteStartObject("json_schema");
        w.WriteString("name", "structured_output");
        w.WritePropertyName("schema");
        schema.WriteTo(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
