using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Writes a Messages API body from an OpenAI chat completions body. Parameters with an Anthropic equivalent are
/// renamed; ones that are only hints for OpenAI's sampler (seed, penalties) or its own services (store,
/// service_tier) are dropped; ones whose meaning Anthropic cannot honour (n &gt; 1, logprobs, logit_bias, audio
/// output, JSON mode without a schema) are refused with a 400 naming the field.
/// </summary>
internal static class AnthropicRequestWriter
{
    /// <summary>
    /// Anthropic requires max_tokens. 4096 is LiteLLM's default for Claude and fits every Claude model's output limit.
    /// </summary>
    public const int DefaultMaxTokens = 4096;

    /// <summary>Thinking budgets for OpenAI's <c>reasoning_effort</c>, as LiteLLM maps them (1024 is Anthropic's minimum budget).</summary>
    public static int? ThinkingBudget(string effort) => effort switch
    {
        "minimal" or "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => null,
    };

    /// <param name="body">The client's OpenAI body.</param>
    /// <param name="model">The model for the body, or null on Vertex (the model is in the URL there).</param>
    /// <param name="anthropicVersion">Vertex's body field <c>anthropic_version</c>, or null for the direct API (which takes a header).</param>
    /// <param name="stream">Ask for a stream.</param>
    public static byte[] Write(JsonElement body, string? model, string? anthropicVersion, bool stream)
    {
        if (body.ValueKind != JsonValueKind.Object) throw AnthropicRequestException.BadRequest("The request body must be a JSON object.", "body");
        Refuse(body);
        var converted = AnthropicMessages.Convert(body.TryGetProperty("messages", out var messages) ? messages : default);

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, AnthropicJson.WriterOptions))
        {
            w.WriteStartObject();
            if (model is not null) w.WriteString("model", model);
            if (anthropicVersion is not null) w.WriteString("anthropic_version", anthropicVersion);

            var thinking = Thinking(body);
            var maxTokens = Int(body, "max_completion_tokens") ?? Int(body, "max_tokens");
            if (maxTokens is null && thinking?["budget_tokens"] is JsonValue budgetValue && budgetValue.TryGetValue(out int budget) && budget >= DefaultMaxTokens)
                maxTokens = budget + DefaultMaxTokens; // the budget counts toward max_tokens and must stay below it
            w.WriteNumber("max_tokens", maxTokens ?? DefaultMaxTokens);

            WriteSystem(w, converted.System);
            w.WritePropertyName("messages");
            converted.Messages.WriteTo(w);

            if (body.TryGetProperty("stop", out var stop)) WriteStop(w, stop);
            CopyNumber(w, body, "temperature");
            CopyNumber(w, body, "top_p");
            CopyNumber(w, body, "top_k");

            WriteTools(w, body);
            if (thinking is not null)
            {
                w.WritePropertyName("thinking");
                thinking.WriteTo(w);
            }
            WriteOutputFormat(w, body);
            if (AnthropicMessages.Str(body, "user") is { Length: > 0 } user)
            {
                w.WriteStartObject("metadata");
                w.WriteString("user_id", user);
                w.WriteEndObject();
            }
            if (stream) w.WriteBoolean("stream", true);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Refuse(JsonElement body)
    {
        if (Int(body, "n") is > 1) throw AnthropicRequestException.BadRequest("Anthropic returns one choice per request; n > 1 is not supported.", "n");
        if (body.TryGetProperty("logprobs", out var lp) && lp.ValueKind == JsonValueKind.True)
            throw AnthropicRequestException.BadRequest("Anthropic does not return log probabilities.", "logprobs");
        if (body.TryGetProperty("logit_bias", out var lb) && lb.ValueKind == JsonValueKind.Object && lb.EnumerateObject().Any())
            throw AnthropicRequestException.BadRequest("Anthropic does not support logit_bias.", "logit_bias");
        if (body.TryGetProperty("modalities", out var mo) && mo.ValueKind == JsonValueKind.Array && mo.EnumerateArray().Any(m => m.ValueKind == JsonValueKind.String && m.GetString() == "audio"))
            throw AnthropicRequestException.BadRequest("Anthropic models do not produce audio.", "modalities");
        if (body.TryGetProperty("audio", out var au) && au.ValueKind == JsonValueKind.Object)
            throw AnthropicRequestException.BadRequest("Anthropic models do not produce audio.", "audio");
    }

    /// <summary>One system block without cache control is sent as a plain string, anything else as text blocks.</summary>
    private static void WriteSystem(Utf8JsonWriter w, JsonArray system)
    {
        if (system.Count == 0) return;
        w.WritePropertyName("system");
        if (system.Count == 1 && system[0] is JsonObject only && !only.ContainsKey("cache_control"))
            w.WriteStringValue((string?)only["text"]);
        else
            system.WriteTo(w);
    }

    private static void WriteStop(Utf8JsonWriter w, JsonElement stop)
    {
        if (stop.ValueKind == JsonValueKind.String)
        {
            if (stop.GetString() is not { Length: > 0 } s) return;
            w.WriteStartArray("stop_sequences");
            w.WriteStringValue(s);
            w.WriteEndArray();
        }
        else if (stop.ValueKind == JsonValueKind.Array && stop.GetArrayLength() > 0)
        {
            w.WriteStartArray("stop_sequences");
            foreach (var s in stop.EnumerateArray())
            {
                if (s.ValueKind != JsonValueKind.String) throw AnthropicRequestException.BadRequest("'stop' must be a string or an array of strings.", "stop");
                w.WriteStringValue(s.GetString());
            }
            w.WriteEndArray();
        }
        else if (stop.ValueKind is not (JsonValueKind.Null or JsonValueKind.Array))
            throw AnthropicRequestException.BadRequest("'stop' must be a string or an array of strings.", "stop");
    }

    private static void WriteTools(Utf8JsonWriter w, JsonElement body)
    {
        var hasTools = body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0;
        if (hasTools)
        {
            w.WriteStartArray("tools");
            var i = 0;
            foreach (var tool in tools.EnumerateArray()) WriteTool(w, tool, $"tools[{i++}]");
            w.WriteEndArray();
        }

        var parallelOff = body.TryGetProperty("parallel_tool_calls", out var p) && p.ValueKind == JsonValueKind.False;
        var choice = body.TryGetProperty("tool_choice", out var tc) ? tc : default;
        string? type = null, name = null;
        if (choice.ValueKind == JsonValueKind.String)
        {
            type = choice.GetString() switch
            {
                "auto" => "auto",
                "none" => "none",
                "required" => "any",
                var other => throw AnthropicRequestException.BadRequest($"tool_choice '{other}' is not one of auto, none, required.", "tool_choice"),
            };
        }
        else if (choice.ValueKind == JsonValueKind.Object)
        {
            name = choice.TryGetProperty("function", out var fn) ? AnthropicMessages.Str(fn, "name") : null;
            if (string.IsNullOrEmpty(name)) throw AnthropicRequestException.BadRequest("tool_choice.function.name is required.", "tool_choice");
            type = "tool";
        }
        if (!hasTools)
        {
            // Without tools a choice of "none" or "auto" means the same as none given; anything else cannot be honoured.
            if (type is "any" or "tool") throw AnthropicRequestException.BadRequest("tool_choice requires tools.", "tool_choice");
            return;
        }
        if (type is null && parallelOff) type = "auto";
        if (type is null) return;
        w.WriteStartObject("tool_choice");
        w.WriteString("type", type);
        if (name is not null) w.WriteString("name", name);
        if (parallelOff && type != "none") w.WriteBoolean("disable_parallel_tool_use", true);
        w.WriteEndObject();
    }

    /// <summary>A function tool becomes name/description/input_schema; Anthropic's own tool types pass through unchanged.</summary>
    private static void WriteTool(Utf8JsonWriter w, JsonElement tool, string path)
    {
        var type = AnthropicMessages.Str(tool, "type");
        if (type != "function")
        {
            if (type is null || !tool.TryGetProperty("name", out _)) throw AnthropicRequestException.BadRequest($"{path}: only function tools are supported.", path + ".type");
            tool.WriteTo(w);
            return;
        }
        var fn = tool.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? f : default;
        var name = fn.ValueKind == JsonValueKind.Object ? AnthropicMessages.Str(fn, "name") : null;
        if (string.IsNullOrEmpty(name)) throw AnthropicRequestException.BadRequest($"{path}.function.name is required.", path + ".function.name");
        w.WriteStartObject();
        w.WriteString("name", name);
        if (AnthropicMessages.Str(fn, "description") is { Length: > 0 } description) w.WriteString("description", description);
        w.WritePropertyName("input_schema");
        if (fn.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object) parameters.WriteTo(w);
        else
        {
            w.WriteStartObject();
            w.WriteString("type", "object");
            w.WriteStartObject("properties");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        if (fn.TryGetProperty("strict", out var strict) && strict.ValueKind == JsonValueKind.True) w.WriteBoolean("strict", true);
        var cache = tool.TryGetProperty("cache_control", out var c) ? c : fn.TryGetProperty("cache_control", out var fc) ? fc : default;
        if (cache.ValueKind == JsonValueKind.Object)
        {
            w.WritePropertyName("cache_control");
            cache.WriteTo(w);
        }
        w.WriteEndObject();
    }

    /// <summary>LiteLLM's <c>thinking</c> passes through; otherwise <c>reasoning_effort</c> picks a budget ("none" leaves thinking off).</summary>
    private static JsonObject? Thinking(JsonElement body)
    {
        if (body.TryGetProperty("thinking", out var thinking) && thinking.ValueKind == JsonValueKind.Object)
            return AnthropicMessages.Node(thinking) as JsonObject;
        if (AnthropicMessages.Str(body, "reasoning_effort") is { } effort && effort != "none")
        {
            var budget = ThinkingBudget(effort) ?? throw AnthropicRequestException.BadRequest($"reasoning_effort '{effort}' is not one of none, minimal, low, medium, high.", "reasoning_effort");
            return new JsonObject { ["type"] = "enabled", ["budget_tokens"] = budget };
        }
        return null;
    }

    /// <summary>
    /// <c>response_format: json_schema</c> uses Anthropic's structured outputs (<c>output_config.format</c>); JSON mode
    /// without a schema has no Anthropic equivalent.
    /// </summary>
    private static void WriteOutputFormat(Utf8JsonWriter w, JsonElement body)
    {
        if (!body.TryGetProperty("response_format", out var rf) || rf.ValueKind != JsonValueKind.Object) return;
        switch (AnthropicMessages.Str(rf, "type"))
        {
            case "text" or null:
                return;
            case "json_schema":
                var js = rf.TryGetProperty("json_schema", out var j) && j.ValueKind == JsonValueKind.Object ? j : default;
                if (js.ValueKind != JsonValueKind.Object || !js.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    throw AnthropicRequestException.BadRequest("response_format.json_schema.schema is required.", "response_format");
                w.WriteStartObject("output_config");
                w.WriteStartObject("format");
                w.WriteString("type", "json_schema");
                w.WritePropertyName("schema");
                schema.WriteTo(w);
                w.WriteEndObject();
                w.WriteEndObject();
                return;
            case "json_object":
                throw AnthropicRequestException.BadRequest("Anthropic has no JSON mode without a schema; use response_format type json_schema.", "response_format");
            case var other:
                throw AnthropicRequestException.BadRequest($"response_format type '{other}' is not supported.", "response_format");
        }
    }

    private static void CopyNumber(Utf8JsonWriter w, JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return;
        if (v.ValueKind != JsonValueKind.Number) throw AnthropicRequestException.BadRequest($"'{name}' must be a number.", name);
        w.WritePropertyName(name);
        v.WriteTo(w);
    }

    private static int? Int(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;
}
