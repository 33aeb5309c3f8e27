using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Responses;

/// <summary>
/// One <c>POST /v1/responses</c> body, read and checked once: every field the response object echoes, the input
/// normalised to a list of items, and the body itself for a native pass-through.
/// </summary>
/// <remarks>
/// Field names, types and ranges follow openai-node <c>src/resources/responses/responses.ts</c>
/// (<c>ResponseCreateParamsBase</c>). Errors are OpenAI's 400s, worded the way OpenAI words them and naming the field
/// in <c>param</c> (<c>input[2].content[0].type</c>). A chat completions parameter is refused as OpenAI refuses an
/// unknown one, so a client that sends a chat body here learns so at once. What the gateway cannot do for a translated deployment
/// (hosted tools it does not run, file ids) is refused later, by <see cref="ResponsesToChat"/>: a native deployment
/// takes them.
/// </remarks>
internal sealed class ResponsesCreate
{
    /// <summary>Values of <c>include</c> (openai-node <c>ResponseIncludable</c>).</summary>
    public static readonly string[] Includable =
    [
        "file_search_call.results", "web_search_call.results", "web_search_call.action.sources", "message.input_image.image_url",
        "computer_call_output.output.image_url", "code_interpreter_call.outputs", "reasoning.encrypted_content", "message.output_text.logprobs",
    ];

    /// <summary>
    /// Chat completions parameters that are not Responses ones: refused as OpenAI refuses an unknown parameter, so a
    /// chat body sent here says what is wrong at once. Other fields the reader does not know are kept (a native
    /// deployment gets them; translation has no use for them), so a client newer than this list still works.
    /// </summary>
    private static readonly HashSet<string> ChatOnly =
    [
        "messages", "max_tokens", "max_completion_tokens", "n", "stop", "functions", "function_call", "response_format", "frequency_penalty",
        "presence_penalty", "logit_bias", "seed", "logprobs", "modalities", "audio", "prediction", "web_search_options", "reasoning_effort",
    ];

    private static readonly string[] Efforts = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];
    private static readonly string[] Summaries = ["auto", "concise", "detailed"];
    private static readonly string[] Roles = ["user", "assistant", "system", "developer"];

    private ResponsesCreate(JsonObject body, string model) { Body = body; Model = model; }

    /// <summary>The body as sent (input not normalised): what a native deployment gets, after the service's edits.</summary>
    public JsonObject Body { get; }

    public string Model { get; }
    public bool Stream { get; private init; }
    public bool Background { get; private init; }
    /// <summary>Whether the response is kept for <c>previous_response_id</c> and retrieval (OpenAI's default: true).</summary>
    public bool Store { get; private init; } = true;
    public string? PreviousResponseId { get; private init; }
    public string? Instructions { get; private init; }
    /// <summary>The input items in order: a string input is one user message item; an item without <c>type</c> gets <c>"type":"message"</c>.</summary>
    public JsonArray Input { get; private set; } = [];
    /// <summary>The tools as sent (function, code_interpreter, mcp, others).</summary>
    public JsonArray Tools { get; private init; } = [];
    public JsonNode? ToolChoice { get; private init; }
    public JsonObject? Text { get; private init; }
    public JsonObject? Reasoning { get; private init; }
    public JsonObject? Metadata { get; private init; }
    public IReadOnlyList<string> Include { get; private init; } = [];
    public bool? ParallelToolCalls { get; private init; }
    public int? MaxOutputTokens { get; private init; }
    public int? MaxToolCalls { get; private init; }
    public double? Temperature { get; private init; }
    public double? TopP { get; private init; }
    public int? TopLogprobs { get; private init; }
    /// <summary><c>auto</c> or <c>disabled</c>; null when not given (OpenAI's default is <c>disabled</c>).</summary>
    public string? Truncation { get; private init; }
    public string? User { get; private init; }
    public string? ServiceTier { get; private init; }
    public string? PromptCacheKey { get; private init; }
    public string? PromptCacheRetention { get; private init; }
    public string? SafetyIdentifier { get; private init; }

    /// <summary>
    /// The same request with other input items: a hosted-tool loop's turn puts the request's own input in the history it
    /// passes to <see cref="ResponsesToChat"/>, followed by the calls it ran, and converts with no input of its own.
    /// </summary>
    public ResponsesCreate WithInput(JsonArray input)
    {
        var copy = (ResponsesCreate)MemberwiseClone();
        copy.Input = input;
        return copy;
    }

    /// <summary>The ids the input's <c>item_reference</c> items name, in order, for the service to look up.</summary>
    public IReadOnlyList<string> ItemReferences =>
        [.. Input.OfType<JsonObject>().Where(i => Str(i, "type") == "item_reference").Select(i => Str(i, "id")!)];

    /// <summary>Whether <c>include</c> asks for <paramref name="value"/>.</summary>
    public bool Includes(string value) => Include.Contains(value, StringComparer.Ordinal);

    /// <summary>Reads and checks a create body; returns the 400 to answer with, or null and the request.</summary>
    public static ApiError? TryRead(ReadOnlySpan<byte> body, out ResponsesCreate? request)
    {
        request = null;
        if (body.IsEmpty) return ApiError.BadRequest("The request body is empty; expected a JSON object.");
        if (JsonText.CheckText(body) is { } textError) return textError;
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body, documentOptions: JsonText.NodeOptions);
        }
        catch (JsonException ex)
        {
            return ApiError.BadRequest($"We could not parse the JSON body of your request: {JsonText.Describe(ex)}", code: "invalid_json");
        }
        if (root is not JsonObject obj) return ApiError.BadRequest("The request body must be a JSON object.");
        try
        {
            request = Read(obj);
            return null;
        }
        catch (ResponsesRequestException ex)
        {
            return ex.Error;
        }
    }

    private static ResponsesCreate Read(JsonObject body)
    {
        foreach (var (name, _) in body)
            if (ChatOnly.Contains(name)) throw new ResponsesRequestException($"Unknown parameter: '{name}'.", name, "unknown_parameter");

        if (body["model"] is not { } modelNode) throw ResponsesRequestException.Missing("model");
        var model = Str(body, "model") ?? throw ResponsesRequestException.Type("model", "a string", modelNode);
        if (model.Length == 0) throw new ResponsesRequestException("Invalid 'model': must not be empty.", "model", "invalid_value");

        foreach (var name in (ReadOnlySpan<string>)["conversation", "prompt"])
            if (body[name] is not null)
                throw new ResponsesRequestException(name == "conversation"
                    ? "The 'conversation' parameter is not supported by this gateway (it has no Conversations API); chain responses with 'previous_response_id' instead."
                    : "The 'prompt' parameter is not supported by this gateway: reusable prompts live in OpenAI's dashboard. Send 'instructions' and 'input' instead.", name, "unsupported_parameter");

        var stream = Bool(body, "stream") ?? false;
        if (body["stream_options"] is { } streamOptions)
        {
            if (streamOptions is not JsonObject) throw ResponsesRequestException.Type("stream_options", "an object", streamOptions);
            if (!stream) throw new ResponsesRequestException("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
        }
        var previous = Str(body, "previous_response_id");
        var input = ReadInput(body);
        if (input is null && previous is null) throw ResponsesRequestException.Missing("input");
        var background = Bool(body, "background") ?? false;
        var store = Bool(body, "store") ?? true;
        if (background && !store)
            throw new ResponsesRequestException("Background responses are stored so they can be polled: 'background' requires 'store' to be true.", "background", "invalid_value");

        return new ResponsesCreate(body, model)
        {
            Stream = stream,
            Background = background,
            Store = store,
            PreviousResponseId = previous,
            Instructions = Str(body, "instructions"),
            Input = input ?? [],
            Tools = ReadTools(body),
            ToolChoice = ReadToolChoice(body),
            Text = ReadText(body),
            Reasoning = ReadReasoning(body),
            Metadata = ReadMetadata(body),
            Include = ReadInclude(body),
            ParallelToolCalls = Bool(body, "parallel_tool_calls"),
            MaxOutputTokens = Int(body, "max_output_tokens", 16, int.MaxValue),
            MaxToolCalls = Int(body, "max_tool_calls", 1, int.MaxValue),
            Temperature = Number(body, "temperature", 0, 2),
            TopP = Number(body, "top_p", 0, 1),
            TopLogprobs = Int(body, "top_logprobs", 0, 20),
            Truncation = OneOf(body, "truncation", "auto", "disabled"),
            User = Str(body, "user"),
            ServiceTier = Str(body, "service_tier"),
            PromptCacheKey = Str(body, "prompt_cache_key"),
            PromptCacheRetention = OneOf(body, "prompt_cache_retention", "in_memory", "24h"),
            SafetyIdentifier = Str(body, "safety_identifier"),
        };
    }

    private static JsonArray? ReadInput(JsonObject body)
    {
        switch (body["input"])
        {
            case null:
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                return [new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = value.GetValue<string>() }];
            case JsonArray items:
                var input = new JsonArray();
                for (var i = 0; i < items.Count; i++) input.Add(ReadItem(items[i], $"input[{i}]"));
                return input;
            case var other:
                throw ResponsesRequestException.Type("input", "a string or an array", other);
        }
    }

    /// <summary>Checks one input item's shape (the kinds the gateway reads) and returns a copy; other kinds are kept as sent.</summary>
    private static JsonObject ReadItem(JsonNode? node, string at)
    {
        if (node is not JsonObject source) throw ResponsesRequestException.Type(at, "an object", node);
        var item = (JsonObject)source.DeepClone();
        var type = Str(item, "type", at);
        if (type is null)
        {
            if (item["role"] is null) throw ResponsesRequestException.Missing($"{at}.type");
            item.Insert(0, "type", "message");
            type = "message";
        }
        switch (type)
        {
            case "message":
                var role = Str(item, "role", at) ?? throw ResponsesRequestException.Missing($"{at}.role");
                if (!Roles.Contains(role)) throw ResponsesRequestException.Value($"{at}.role", role, Roles);
                switch (item["content"])
                {
                    case null:
                        throw ResponsesRequestException.Missing($"{at}.content");
                    case JsonValue c when c.GetValueKind() == JsonValueKind.String:
                        break;
                    case JsonArray parts:
                        for (var p = 0; p < parts.Count; p++) ReadPart(parts[p], $"{at}.content[{p}]", role);
                        break;
                    case var c:
                        throw ResponsesRequestException.Type($"{at}.content", "a string or an array", c);
                }
                break;
            case "function_call":
                foreach (var name in (ReadOnlySpan<string>)["call_id", "name", "arguments"])
                    if (Str(item, name, at) is null) throw ResponsesRequestException.Missing($"{at}.{name}");
                break;
            case "function_call_output":
                if (Str(item, "call_id", at) is null) throw ResponsesRequestException.Missing($"{at}.call_id");
                switch (item["output"])
                {
                    case null:
                        throw ResponsesRequestException.Missing($"{at}.output");
                    case JsonValue o when o.GetValueKind() == JsonValueKind.String:
                        break;
                    case JsonArray parts:
                        for (var p = 0; p < parts.Count; p++) ReadPart(parts[p], $"{at}.output[{p}]", "user");
                        break;
                    case var o:
                        throw ResponsesRequestException.Type($"{at}.output", "a string or an array", o);
                }
                break;
            case "reasoning":
                if (item["summary"] is { } summary and not JsonArray) throw ResponsesRequestException.Type($"{at}.summary", "an array", summary);
                break;
            case "item_reference":
                if (Str(item, "id", at) is null) throw ResponsesRequestException.Missing($"{at}.id");
                break;
        }
        return item;
    }

    /// <summary>One content part of a message (or of a function call's output).</summary>
    private static void ReadPart(JsonNode? node, string at, string role)
    {
        if (node is not JsonObject part) throw ResponsesRequestException.Type(at, "an object", node);
        var type = Str(part, "type", at) ?? throw ResponsesRequestException.Missing($"{at}.type");
        string[] allowed = role == "assistant" ? ["output_text", "refusal"] : ["input_text", "input_image", "input_file"];
        // OpenAI takes input_text in an assistant message of a hand-written history too.
        if (role == "assistant" && type == "input_text") allowed = ["input_text"];
        if (!allowed.Contains(type)) throw ResponsesRequestException.Value($"{at}.type", type, role == "assistant" ? ["output_text", "refusal"] : ["input_text", "input_image", "input_file"]);
        switch (type)
        {
            case "input_text" or "output_text":
                if (Str(part, "text", at) is null) throw ResponsesRequestException.Missing($"{at}.text");
                break;
            case "refusal":
                if (Str(part, "refusal", at) is null) throw ResponsesRequestException.Missing($"{at}.refusal");
                break;
            case "input_image":
                if (Str(part, "image_url", at) is null && Str(part, "file_id", at) is null)
                    throw new ResponsesRequestException($"Invalid '{at}': an input_image needs 'image_url' or 'file_id'.", $"{at}.image_url", "missing_required_parameter");
                if (Str(part, "detail", at) is { } detail && !((string[])["low", "high", "auto", "original"]).Contains(detail))
                    throw ResponsesRequestException.Value($"{at}.detail", detail, "low", "high", "auto", "original");
                break;
            case "input_file":
                if (Str(part, "file_data", at) is null && Str(part, "file_id", at) is null && Str(part, "file_url", at) is null)
                    throw new ResponsesRequestException($"Invalid '{at}': an input_file needs 'file_data', 'file_id' or 'file_url'.", $"{at}.file_data", "missing_required_parameter");
                break;
        }
    }

    private static JsonArray ReadTools(JsonObject body)
    {
        switch (body["tools"])
        {
            case null:
                return [];
            case JsonArray tools:
                var copy = new JsonArray();
                for (var i = 0; i < tools.Count; i++)
                {
                    var at = $"tools[{i}]";
                    if (tools[i] is not JsonObject tool) throw ResponsesRequestException.Type(at, "an object", tools[i]);
                    var type = Str(tool, "type", at) ?? throw ResponsesRequestException.Missing($"{at}.type");
                    if (type == "function")
                    {
                        var name = Str(tool, "name", at) ?? throw ResponsesRequestException.Missing($"{at}.name");
                        if (!IsName(name))
                            throw new ResponsesRequestException($"Invalid '{at}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'.", $"{at}.name", "invalid_value");
                        if (tool["parameters"] is { } parameters and not JsonObject) throw ResponsesRequestException.Type($"{at}.parameters", "an object", parameters);
                        Bool(tool, "strict", at);
                        Str(tool, "description", at);
                    }
                    else if (type == "mcp" && Str(tool, "server_label", at) is null) throw ResponsesRequestException.Missing($"{at}.server_label");
                    copy.Add(tool.DeepClone());
                }
                return copy;
            case var other:
                throw ResponsesRequestException.Type("tools", "an array", other);
        }
    }

    private static JsonNode? ReadToolChoice(JsonObject body)
    {
        switch (body["tool_choice"])
        {
            case null:
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                var mode = value.GetValue<string>();
                if (mode is not ("none" or "auto" or "required")) throw ResponsesRequestException.Value("tool_choice", mode, "none", "auto", "required");
                return value.DeepClone();
            case JsonObject choice:
                var type = Str(choice, "type", "tool_choice") ?? throw ResponsesRequestException.Missing("tool_choice.type");
                if (type is "function" or "custom" && Str(choice, "name", "tool_choice") is null) throw ResponsesRequestException.Missing("tool_choice.name");
                if (type == "mcp" && Str(choice, "server_label", "tool_choice") is null) throw ResponsesRequestException.Missing("tool_choice.server_label");
                if (type == "allowed_tools")
                {
                    if (OneOf(choice, "mode", "auto", "required", "tool_choice") is null) throw ResponsesRequestException.Missing("tool_choice.mode");
                    if (choice["tools"] is not JsonArray) throw ResponsesRequestException.Type("tool_choice.tools", "an array", choice["tools"]);
                }
                return choice.DeepClone();
            case var other:
                throw ResponsesRequestException.Type("tool_choice", "a string or an object", other);
        }
    }

    private static JsonObject? ReadText(JsonObject body)
    {
        if (body["text"] is null) return null;
        if (body["text"] is not JsonObject text) throw ResponsesRequestException.Type("text", "an object", body["text"]);
        OneOf(text, "verbosity", "low", "medium", "high", "text");
        if (text["format"] is { } formatNode)
        {
            if (formatNode is not JsonObject format) throw ResponsesRequestException.Type("text.format", "an object", formatNode);
            var type = Str(format, "type", "text.format") ?? throw ResponsesRequestException.Missing("text.format.type");
            switch (type)
            {
                case "text" or "json_object":
                    break;
                case "json_schema":
                    var name = Str(format, "name", "text.format") ?? throw ResponsesRequestException.Missing("text.format.name");
                    if (!IsName(name))
                        throw new ResponsesRequestException("Invalid 'text.format.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", "text.format.name", "invalid_value");
                    if (format["schema"] is null) throw ResponsesRequestException.Missing("text.format.schema");
                    if (format["schema"] is not JsonObject) throw ResponsesRequestException.Type("text.format.schema", "an object", format["schema"]);
                    Bool(format, "strict", "text.format");
                    break;
                default:
                    throw ResponsesRequestException.Value("text.format.type", type, "text", "json_object", "json_schema");
            }
        }
        return (JsonObject)text.DeepClone();
    }

    private static JsonObject? ReadReasoning(JsonObject body)
    {
        if (body["reasoning"] is null) return null;
        if (body["reasoning"] is not JsonObject reasoning) throw ResponsesRequestException.Type("reasoning", "an object", body["reasoning"]);
        OneOf(reasoning, "effort", Efforts, "reasoning");
        OneOf(reasoning, "summary", Summaries, "reasoning");
        OneOf(reasoning, "generate_summary", Summaries, "reasoning");
        return (JsonObject)reasoning.DeepClone();
    }

    /// <summary>Metadata as OpenAI limits it: at most 16 string values, keys up to 64 characters, values up to 512.</summary>
    private static JsonObject? ReadMetadata(JsonObject body)
    {
        if (body["metadata"] is null) return null;
        if (body["metadata"] is not JsonObject metadata) throw ResponsesRequestException.Type("metadata", "an object", body["metadata"]);
        if (metadata.Count > 16)
            throw new ResponsesRequestException($"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with {metadata.Count} properties instead.", "metadata", "object_above_max_properties");
        foreach (var (key, value) in metadata)
        {
            if (key.Length > 64)
                throw new ResponsesRequestException($"Invalid 'metadata': key '{key[..16]}...' is longer than 64 characters.", "metadata", "invalid_value");
            if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw ResponsesRequestException.Type($"metadata.{key}", "a string", value);
            if (v.GetValue<string>().Length > 512)
                throw new ResponsesRequestException($"Invalid 'metadata.{key}': string too long. Expected a string with maximum length 512.", $"metadata.{key}", "string_above_max_length");
        }
        return (JsonObject)metadata.DeepClone();
    }

    private static List<string> ReadInclude(JsonObject body)
    {
        if (body["include"] is null) return [];
        if (body["include"] is not JsonArray include) throw ResponsesRequestException.Type("include", "an array", body["include"]);
        var values = new List<string>();
        for (var i = 0; i < include.Count; i++)
        {
            if (include[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw ResponsesRequestException.Type($"include[{i}]", "a string", include[i]);
            var value = v.GetValue<string>();
            if (!Includable.Contains(value)) throw ResponsesRequestException.Value($"include[{i}]", value, Includable);
            values.Add(value);
        }
        return values;
    }

    private static bool IsName(string name) =>
        name.Length is > 0 and <= 64 && name.AsSpan().IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") < 0;

    /// <summary>A string member (absent or null: null); <paramref name="at"/> prefixes the name in the error.</summary>
    internal static string? Str(JsonObject obj, string name, string? at = null)
    {
        var node = obj[name];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        throw ResponsesRequestException.Type(Path(at, name), "a string", node);
    }

    private static bool? Bool(JsonObject obj, string name, string? at = null)
    {
        var node = obj[name];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False) return v.GetValue<bool>();
        throw ResponsesRequestException.Type(Path(at, name), "a boolean", node);
    }

    private static int? Int(JsonObject obj, string name, int min, int max)
    {
        var node = obj[name];
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<double>(out var value) || value != Math.Floor(value))
            throw ResponsesRequestException.Type(name, "an integer", node);
        if (value < min)
            throw new ResponsesRequestException($"Invalid '{name}': integer below minimum value. Expected a value >= {min}, but got {value} instead.", name, "integer_below_min_value");
        if (value > max)
            throw new ResponsesRequestException($"Invalid '{name}': integer above maximum value. Expected a value <= {max}, but got {value} instead.", name, "integer_above_max_value");
        return (int)value;
    }

    private static double? Number(JsonObject obj, string name, double min, double max)
    {
        var node = obj[name];
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) throw ResponsesRequestException.Type(name, "a number", node);
        var value = v.GetValue<double>();
        if (value < min)
            throw new ResponsesRequestException($"Invalid '{name}': decimal below minimum value. Expected a value >= {min}, but got {value} instead.", name, "decimal_below_min_value");
        if (value > max)
            throw new ResponsesRequestException($"Invalid '{name}': decimal above maximum value. Expected a value <= {max}, but got {value} instead.", name, "decimal_above_max_value");
        return value;
    }

    private static string? OneOf(JsonObject obj, string name, string a, string b, string? at = null) => OneOf(obj, name, [a, b], at);

    private static string? OneOf(JsonObject obj, string name, string a, string b, string c, string? at) => OneOf(obj, name, [a, b, c], at);

    private static string? OneOf(JsonObject obj, string name, string[] values, string? at)
    {
        var value = Str(obj, name, at);
        if (value is not null && !values.Contains(value)) throw ResponsesRequestException.Value(Path(at, name), value, values);
        return value;
    }

    private static string Path(string? at, string name) => at is null ? name : $"{at}.{name}";
}
