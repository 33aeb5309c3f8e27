using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>
/// Writes a Bedrock Converse / ConverseStream body from an OpenAI chat completions body. The model and stream choice
/// travel in the URL, not the body. Fields Converse cannot express are refused with a 400 naming the field; fields
/// with no meaning there (user, seed, penalties, store, metadata...) are dropped.
/// </summary>
internal static class ConverseRequestWriter
{
    /// <summary>Thinking budgets for reasoning_effort on Claude models (LiteLLM's defaults).</summary>
    private static readonly Dictionary<string, int> EffortBudgets = new(StringComparer.Ordinal)
    {
        ["minimal"] = 1024, ["low"] = 1024, ["medium"] = 2048, ["high"] = 4096,
    };

    /// <summary>Translates the body, or returns the 400 that explains why it cannot be.</summary>
    public static (byte[]? Body, ApiError? Error) Write(ReadOnlySpan<byte> openAiBody, string model)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(openAiBody) as JsonObject ?? throw new JsonException("the body is not a JSON object");
        }
        catch (JsonException ex)
        {
            return (null, ApiError.BadRequest($"We could not parse the JSON body of your request. ({ex.Message})"));
        }
        try
        {
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer)) WriteBody(w, request, model);
            return (buffer.WrittenSpan.ToArray(), null);
        }
        catch (RefusedException ex)
        {
            return (null, ex.Error);
        }
    }

    /// <summary>Raised while writing when the request cannot be expressed; carries the OpenAI-shaped 400.</summary>
    internal sealed class RefusedException(ApiError error) : Exception(error.Message)
    {
        public ApiError Error { get; } = error;
    }

    internal static RefusedException Refuse(string message, string param) => new(ApiError.BadRequest(message, param));

    private static void WriteBody(Utf8JsonWriter w, JsonObject request, string model)
    {
        if (request["messages"] is not JsonArray messages || messages.Count == 0) throw Refuse("'messages' must be a non-empty array", "messages");
        CheckExpressible(request);

        var toolChoice = request["tool_choice"];
        var tools = request["tools"] as JsonArray;
        var choiceNone = toolChoice is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "none";

        w.WriteStartObject();
        var turns = ConverseMessages.Build(messages, out var system, out var usesTools);
        w.WriteStartArray("messages");
        foreach (var turn in turns) turn.WriteTo(w);
        w.WriteEndArray();
        if (system.Count > 0)
        {
            w.WriteStartArray("system");
            foreach (var text in system)
            {
                w.WriteStartObject();
                w.WriteString("text", text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }

        WriteInferenceConfig(w, request);

        // tool_choice "none": Converse has no such choice, so the tools are left out, which is how a model is kept
        // from calling them. A conversation that already holds toolUse/toolResult blocks must still declare its
        // tools (Converse refuses those blocks without a toolConfig), so then the tools stay, without a choice.
        if (tools is { Count: > 0 } && (!choiceNone || usesTools)) WriteToolConfig(w, tools, choiceNone ? null : toolChoice);

        WriteAdditionalFields(w, request, model);
        w.WriteEndObject();
    }

    private static void CheckExpressible(JsonObject request)
    {
        if (request["n"] is JsonValue n && n.TryGetValue<double>(out var count) && count != 1)
            throw Refuse("Bedrock Converse returns one choice per request: 'n' must be 1", "n");
        if (request["logprobs"] is JsonValue lp && lp.GetValueKind() == JsonValueKind.True)
            throw Refuse("Bedrock Converse does not return log probabilities: 'logprobs' is not supported", "logprobs");
        if (request["response_format"] is JsonObject rf && rf["type"]?.GetValue<string>() is { } type && type != "text")
            throw Refuse($"Bedrock Converse has no structured-output mode: response_format type '{type}' is not supported", "response_format");
        if (request["audio"] is not null || (request["modalities"] is JsonArray m && m.Any(x => x?.GetValue<string>() == "audio")))
            throw Refuse("Bedrock Converse does not produce audio", "modalities");
    }

    private static void WriteInferenceConfig(Utf8JsonWriter w, JsonObject request)
    {
        var maxTokens = request["max_completion_tokens"] ?? request["max_tokens"];
        var temperature = request["temperature"];
        var topP = request["top_p"];
        var stop = request["stop"];
        var stops = stop switch
        {
            JsonValue s when s.GetValueKind() == JsonValueKind.String => [s.GetValue<string>()],
            JsonArray a => a.Select(x => x?.GetValue<string>()).OfType<string>().ToList(),
            _ => new List<string>(),
        };
        if (IsNull(maxTokens) && IsNull(temperature) && IsNull(topP) && stops.Count == 0) return;
        w.WriteStartObject("inferenceConfig");
        if (!IsNull(maxTokens)) { w.WritePropertyName("maxTokens"); maxTokens!.WriteTo(w); }
        if (!IsNull(temperature)) { w.WritePropertyName("temperature"); temperature!.WriteTo(w); }
        if (!IsNull(topP)) { w.WritePropertyName("topP"); topP!.WriteTo(w); }
        if (stops.Count > 0)
        {
            w.WriteStartArray("stopSequences");
            foreach (var s in stops) w.WriteStringValue(s);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static bool IsNull(JsonNode? node) => node is null || node.GetValueKind() == JsonValueKind.Null;

    private static void WriteToolConfig(Utf8JsonWriter w, JsonArray tools, JsonNode? toolChoice)
    {
        w.WriteStartObject("toolConfig");
        w.WriteStartArray("tools");
        foreach (var tool in tools)
        {
            if (tool is not JsonObject t || t["type"]?.GetValue<string>() is { } type && type != "function")
                throw Refuse("Bedrock Converse only takes function tools", "tools");
            if (t["function"] is not JsonObject fn || fn["name"]?.GetValue<string>() is not { Length: > 0 } name)
                throw Refuse("each tool needs function.name", "tools");
            w.WriteStartObject();
            w.WriteStartObject("toolSpec");
            w.WriteString("name", name);
            if (fn["description"]?.GetValue<string>() is { Length: > 0 } description) w.WriteString("description", description);
            w.WriteStartObject("inputSchema");
            w.WritePropertyName("json");
            if (fn["parameters"] is JsonObject parameters) parameters.WriteTo(w);
            else
            {
                // Converse requires a schema; OpenAI allows a function without parameters.
                w.WriteStartObject();
                w.WriteString("type", "object");
                w.WriteStartObject("properties");
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        switch (toolChoice)
        {
            case null:
                break;
            case JsonValue s when s.GetValueKind() == JsonValueKind.String:
                var mode = s.GetValue<string>();
                if (mode is "auto") WriteChoice(w, "auto", null);
                else if (mode is "required") WriteChoice(w, "any", null);
                else if (mode is not "none") throw Refuse($"unknown tool_choice '{mode}'", "tool_choice");
                break;
            case JsonObject o when NamedTool(o) is { Length: > 0 } named:
                WriteChoice(w, "tool", named);
                break;
            default:
                throw Refuse("tool_choice must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}", "tool_choice");
        }
        w.WriteEndObject();

        static string? NamedTool(JsonObject choice) => (choice["function"] as JsonObject)?["name"]?.GetValue<string>();

        static void WriteChoice(Utf8JsonWriter w, string kind, string? name)
        {
            w.WriteStartObject("toolChoice");
            w.WriteStartObject(kind);
            if (name is not null) w.WriteString("name", name);
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    /// <summary>
    /// Model-specific fields: top_k, and extended thinking for Claude models (from reasoning_effort, or an
    /// Anthropic-style <c>thinking</c> object as LiteLLM accepts it).
    /// </summary>
    private static void WriteAdditionalFields(Utf8JsonWriter w, JsonObject request, string model)
    {
        var topK = request["top_k"];
        var thinking = request["thinking"] as JsonObject;
        var effort = request["reasoning_effort"] is JsonValue e && e.GetValueKind() == JsonValueKind.String ? e.GetValue<string>() : null;
        var extra = request["additionalModelRequestFields"] as JsonObject;
        var claude = IsClaude(model);
        if ((thinking is not null || effort is not null) && !claude)
            throw Refuse($"reasoning on Bedrock Converse is translated for Anthropic Claude models only, not '{model}'", thinking is not null ? "thinking" : "reasoning_effort");
        int? budget = null;
        if (effort is not null && effort != "none")
        {
            if (!EffortBudgets.TryGetValue(effort, out var b)) throw Refuse($"unknown reasoning_effort '{effort}'", "reasoning_effort");
            budget = b;
        }
        if (IsNull(topK) && thinking is null && budget is null && extra is null) return;

        w.WriteStartObject("additionalModelRequestFields");
        if (!IsNull(topK)) { w.WritePropertyName("top_k"); topK!.WriteTo(w); }
        if (thinking is not null) { w.WritePropertyName("thinking"); thinking.WriteTo(w); }
        else if (budget is { } tokens)
        {
            w.WriteStartObject("thinking");
            w.WriteString("type", "enabled");
            w.WriteNumber("budget_tokens", tokens);
            w.WriteEndObject();
        }
        // A client that already speaks Bedrock may pass model fields straight through.
        if (extra is not null)
            foreach (var (key, value) in extra)
            {
                if (key is "top_k" or "thinking") continue;
                w.WritePropertyName(key);
                if (value is null) w.WriteNullValue(); else value.WriteTo(w);
            }
        w.WriteEndObject();
    }

    /// <summary>Claude ids: <c>anthropic.claude-*</c>, cross-region profiles (<c>us.anthropic.claude-*</c>) and ARNs naming them.</summary>
    public static bool IsClaude(string model) => model.Contains("claude", StringComparison.OrdinalIgnoreCase);
}
