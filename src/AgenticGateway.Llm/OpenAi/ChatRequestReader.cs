using System.Text.Json;
using AgenticGateway.Json;
using AgenticGateway.Routing;

namespace AgenticGateway.OpenAi;

/// <summary>
/// What the gateway needs from a request body, read in one pass without building a DOM: the model (and where it
/// sits, so it can be replaced without re-serialising), stream flags and token hints. Every other field is
/// only checked for its type and flows through to the provider byte for byte.
/// </summary>
internal struct ParsedRequest
{
    public string Model;
    /// <summary>Byte range of the model's JSON string token, quotes included.</summary>
    public int ModelStart;
    public int ModelEnd;
    public bool Stream;
    public bool IncludeUsage;
    /// <summary>Whether the body has a stream_options field at all (then the gateway leaves it alone).</summary>
    public bool HasStreamOptions;
    /// <summary>Byte offset of the closing brace of the top-level object.</summary>
    public int ObjectEnd;
    public int? MaxTokens;
    /// <summary>Choices asked for (<c>n</c>); null means one.</summary>
    public int? N;
    /// <summary>Embeddings asked for as base64 (<c>encoding_format: base64</c>).</summary>
    public bool Base64;
    /// <summary>Documents of a rerank request (<c>documents</c>), for the search units it may be billed.</summary>
    public int Documents;
    /// <summary>LiteLLM's request tags (tag routing): the body's <c>tags</c>; null when none.</summary>
    public string[]? Tags;
    /// <summary>The tags in <c>metadata.tags</c>, which LiteLLM reads when neither the body nor a header names any.</summary>
    public string[]? MetadataTags;
    /// <summary>
    /// Byte range of the top-level <c>tags</c> member with its separating comma, to leave out upstream (LiteLLM
    /// consumes it; no provider takes it); TagsEnd is 0 when there is none.
    /// </summary>
    public int TagsStart;
    public int TagsEnd;
}

internal static class RequestReader
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 128 };

    public static ApiError? TryParse(ReadOnlySpan<byte> body, LlmOperation operation, out ParsedRequest request)
    {
        request = default;
        if (body.IsEmpty) return ApiError.BadRequest("The request body is empty; expected a JSON object.");
        if (JsonText.CheckText(body) is { } textError) return textError;
        var reader = new Utf8JsonReader(body, ReaderOptions);
        var hasMessages = false;
        var hasPrompt = false;
        var hasInput = false;
        var hasQuery = false;
        var hasPreviousResponse = false;
        bool? streamOptionsSeen = null;
        // Whether the tags member, the object's first, still waits for the next member's start (its cut ends there).
        var tagsOpen = false;
        string[]? metadataTags = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return ApiError.BadRequest("The request body must be a JSON object.");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (tagsOpen) { request.TagsEnd = (int)reader.TokenStartIndex; tagsOpen = false; }
                var memberStart = (int)reader.TokenStartIndex;
                if (reader.ValueTextEquals("tags"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Null)
                    {
                        if (reader.TokenType != JsonTokenType.StartArray) return TypeError("tags", "an array of strings", reader.TokenType);
                        if (ReadTags(ref reader) is not { } tags) return ApiError.BadRequest("Invalid 'tags': expected an array of strings.", "tags");
                        request.Tags = tags;
                    }
                    else reader.Skip();
                    // With a member before it, the comma before it goes; as the first member, the comma after it does.
                    var comma = memberStart - 1;
                    while (body[comma] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') comma--;
                    if (body[comma] == (byte)',') { request.TagsStart = comma; request.TagsEnd = (int)reader.BytesConsumed; }
                    else { request.TagsStart = memberStart; tagsOpen = true; }
                    continue;
                }
                if (reader.ValueTextEquals("metadata"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        var depth = reader.CurrentDepth;
                        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
                        {
                            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("tags"u8))
                            {
                                reader.Read();
                                // LiteLLM reads metadata.tags only when it is a list of strings; any other shape carries no tags.
                                if (reader.TokenType == JsonTokenType.StartArray) metadataTags = ReadTags(ref reader);
                                else reader.Skip();
                            }
                            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
                        }
                    }
                    else reader.Skip();
                    continue;
                }
                if (reader.ValueTextEquals("model"u8))
                {
                    if (request.Model is not null) return ApiError.BadRequest("The 'model' field appears more than once.", "model");
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String) return TypeError("model", "a string", reader.TokenType);
                    request.ModelStart = (int)reader.TokenStartIndex;
                    request.ModelEnd = request.ModelStart + reader.ValueSpan.Length + 2;
                    request.Model = reader.GetString()!;
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) request.Stream = reader.GetBoolean();
                    else if (reader.TokenType != JsonTokenType.Null) return TypeError("stream", "a boolean", reader.TokenType);
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    request.HasStreamOptions = true;
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.StartObject) return TypeError("stream_options", "an object", reader.TokenType);
                    streamOptionsSeen = true;
                    var depth = reader.CurrentDepth;
                    while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
                    {
                        if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("include_usage"u8))
                        {
                            reader.Read();
                            if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) request.IncludeUsage = reader.GetBoolean();
                            else return TypeError("stream_options.include_usage", "a boolean", reader.TokenType);
                        }
                        else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("messages"u8))
                {
                    reader.Read();
                    if (ValidateMessages(ref reader) is { } error) return error;
                    hasMessages = true;
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8))
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var max)) return TypeError(name, "an integer", reader.TokenType);
                    if (max < 1) return ApiError.BadRequest($"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {max} instead.", name, "integer_below_min_value");
                    request.MaxTokens = max;
                }
                else if (operation == LlmOperation.Responses && reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var max)) return TypeError("max_output_tokens", "an integer", reader.TokenType);
                    // OpenAI's floor for max_output_tokens (a Responses model needs room for its reasoning and framing).
                    if (max < 16) return ApiError.BadRequest($"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {max} instead.", "max_output_tokens", "integer_below_min_value");
                    request.MaxTokens = max;
                }
                else if (operation == LlmOperation.Responses && reader.ValueTextEquals("previous_response_id"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.String) return TypeError("previous_response_id", "a string", reader.TokenType);
                    hasPreviousResponse = true;
                }
                else if (operation == LlmOperation.Responses && reader.ValueTextEquals("prompt"u8))
                {
                    // A Responses prompt is a template reference (an object), checked by the Responses reader.
                    reader.Read();
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("n"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var n)) return TypeError("n", "an integer", reader.TokenType);
                    if (n is < 1 or > 128) return ApiError.BadRequest($"Invalid 'n': expected a value between 1 and 128, but got {n} instead.", "n");
                    request.N = n;
                }
                else if (reader.ValueTextEquals("temperature"u8))
                {
                    if (NumberInRange(ref reader, "temperature", 0, 2) is { } error) return error;
                }
                else if (reader.ValueTextEquals("top_p"u8))
                {
                    if (NumberInRange(ref reader, "top_p", 0, 1) is { } error) return error;
                }
                else if (reader.ValueTextEquals("prompt"u8))
                {
                    reader.Read();
                    if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.StartArray)) return TypeError("prompt", "a string or an array", reader.TokenType);
                    hasPrompt = true;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        var empty = true;
                        var depth = reader.CurrentDepth;
                        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
                        {
                            empty = false;
                            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
                        }
                        // A Responses call may continue a stored conversation with no new items.
                        if (empty && operation != LlmOperation.Responses) return ApiError.BadRequest("'input' must not be empty.", "input");
                    }
                    else if (reader.TokenType != JsonTokenType.String) return TypeError("input", "a string or an array", reader.TokenType);
                    hasInput = true;
                }
                else if (operation == LlmOperation.Rerank && reader.ValueTextEquals("query"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String) return TypeError("query", "a string", reader.TokenType);
                    hasQuery = true;
                }
                else if (operation == LlmOperation.Rerank && reader.ValueTextEquals("documents"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray) return TypeError("documents", "an array", reader.TokenType);
                    var depth = reader.CurrentDepth;
                    while (reader.Read() && !(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
                    {
                        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.StartObject))
                            return TypeError($"documents[{request.Documents}]", "a string or an object", reader.TokenType);
                        if (reader.TokenType == JsonTokenType.StartObject) reader.Skip();
                        request.Documents++;
                    }
                    if (request.Documents == 0) return ApiError.BadRequest("'documents' must not be empty.", "documents");
                }
                else if (reader.ValueTextEquals("encoding_format"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.String || !(reader.ValueTextEquals("float"u8) || reader.ValueTextEquals("base64"u8)))
                        return ApiError.BadRequest("Invalid 'encoding_format': expected 'float' or 'base64'.", "encoding_format");
                    request.Base64 = reader.ValueTextEquals("base64"u8);
                }
                else if (reader.ValueTextEquals("tools"u8))
                {
                    reader.Read();
                    if (reader.TokenType is not (JsonTokenType.StartArray or JsonTokenType.Null)) return TypeError("tools", "an array", reader.TokenType);
                    reader.Skip();
                }
                else
                {
                    // Unknown or pass-through field: validate its JSON, keep it as is.
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject) return ApiError.BadRequest("The request body must be a JSON object.");
            request.ObjectEnd = (int)reader.TokenStartIndex;
            if (reader.Read()) return ApiError.BadRequest($"Unexpected data after the JSON object at byte {reader.TokenStartIndex}.");
        }
        catch (JsonException ex)
        {
            return ApiError.BadRequest($"We could not parse the JSON body of your request: {JsonText.Describe(ex)}", code: "invalid_json");
        }

        request.MetadataTags = metadataTags;
        if (request.Model is null) return ApiError.BadRequest("you must provide a model parameter", "model");
        if (request.Model.Length == 0) return ApiError.BadRequest("Invalid 'model': must not be empty.", "model");
        if (streamOptionsSeen == true && !request.Stream)
            return ApiError.BadRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
        return operation switch
        {
            LlmOperation.ChatCompletions or LlmOperation.Messages when !hasMessages => ApiError.BadRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter"),
            LlmOperation.Completions when !hasPrompt => ApiError.BadRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"),
            LlmOperation.Responses when !hasInput && !hasPreviousResponse => ApiError.BadRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter"),
            LlmOperation.Embeddings when !hasInput => ApiError.BadRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter"),
            LlmOperation.Rerank when !hasQuery => ApiError.BadRequest("Missing required parameter: 'query'.", "query", "missing_required_parameter"),
            LlmOperation.Rerank when request.Documents == 0 => ApiError.BadRequest("Missing required parameter: 'documents'.", "documents", "missing_required_parameter"),
            // Rerank answers are one JSON body: no provider streams them.
            LlmOperation.Rerank when request.Stream => ApiError.BadRequest("Rerank does not stream; leave out 'stream'.", "stream", "invalid_value"),
            _ => null,
        };
    }

    /// <summary>
    /// Which of <see cref="Configuration.DefaultParameters.Names"/> a body that <see cref="TryParse"/> accepted sets at
    /// its top level (bit i for name i). Read apart from TryParse because only a deployment that configures default
    /// parameters needs it: every other request is spared the lookups.
    /// </summary>
    public static ulong PresentParams(ReadOnlySpan<byte> body)
    {
        var names = Configuration.DefaultParameters.Index.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> name = stackalloc char[24];
        var reader = new Utf8JsonReader(body, ReaderOptions);
        ulong present = 0;
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueSpan.Length <= name.Length && !reader.ValueIsEscaped
                && names.TryGetValue(name[..System.Text.Encoding.UTF8.GetChars(reader.ValueSpan, name)], out var index))
                present |= 1UL << index;
            reader.Read();
            reader.Skip();
        }
        return present;
    }

    /// <summary>An array of strings (the reader on its start); null when an item is not a string.</summary>
    private static string[]? ReadTags(ref Utf8JsonReader reader)
    {
        var tags = new List<string>();
        var valid = true;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
        {
            if (reader.TokenType == JsonTokenType.String) tags.Add(reader.GetString()!);
            else { valid = false; if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip(); }
        }
        return valid ? [.. tags] : null;
    }

    private static ApiError? ValidateMessages(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray) return TypeError("messages", "an array", reader.TokenType);
        var index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject) return TypeError($"messages[{index}]", "an object", reader.TokenType);
            var depth = reader.CurrentDepth;
            var hasRole = false;
            while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("role"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String) return TypeError($"messages[{index}].role", "a string", reader.TokenType);
                    if (!(reader.ValueTextEquals("system"u8) || reader.ValueTextEquals("user"u8) || reader.ValueTextEquals("assistant"u8)
                          || reader.ValueTextEquals("tool"u8) || reader.ValueTextEquals("developer"u8) || reader.ValueTextEquals("function"u8)))
                        return ApiError.BadRequest($"Invalid value: '{reader.GetString()}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", $"messages[{index}].role", "invalid_value");
                    hasRole = true;
                }
                else if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (!hasRole) return ApiError.BadRequest($"Missing required parameter: 'messages[{index}].role'.", $"messages[{index}].role", "missing_required_parameter");
            index++;
        }
        if (index == 0) return ApiError.BadRequest("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array");
        return null;
    }

    private static ApiError? NumberInRange(ref Utf8JsonReader reader, string name, double min, double max)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.Number) return TypeError(name, "a number", reader.TokenType);
        var value = reader.GetDouble();
        if (value < min || value > max)
            return ApiError.BadRequest($"Invalid '{name}': expected a value between {min} and {max}, but got {value} instead.", name, "invalid_value");
        return null;
    }

    private static ApiError TypeError(string param, string expected, JsonTokenType got) =>
        ApiError.BadRequest($"Invalid type for '{param}': expected {expected}, but got {Describe(got)} instead.", param, "invalid_type");

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => token.ToString(),
    };
}
