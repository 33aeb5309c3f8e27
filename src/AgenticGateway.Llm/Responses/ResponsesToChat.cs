using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Responses;

/// <summary>
/// Turns a Responses create request (with the items of the responses it continues) into one OpenAI chat completions
/// body, for deployments without a native Responses API. The chat body then takes the normal chat path, through
/// whichever provider translator the deployment has.
/// </summary>
/// <remarks>
/// <para>Messages: <c>instructions</c> first as a system message, then the history items, then the input items, in
/// order. A user, system or developer message becomes a chat message of that role (developer as system, which every
/// chat server takes); an assistant message, the reasoning and function calls around it become one assistant message
/// (<c>content</c>, <c>refusal</c>, <c>reasoning_content</c>, <c>tool_calls</c>); a function call output a tool
/// message. A reasoning item's <c>encrypted_content</c> that holds LiteLLM <c>thinking_blocks</c> (as
/// <see cref="ChatToResponses"/> writes them for Claude's signed thinking) goes back as <c>thinking_blocks</c>.
/// Hosted tool items the gateway ran (<c>code_interpreter_call</c>, <c>mcp_call</c>) go back as calls of the function
/// tools it offered for them (<see cref="CodeInterpreterFunction"/>, <see cref="McpFunctionName"/>) and their results;
/// MCP listings and approvals are the service's and are left out. An <c>item_reference</c> is resolved among the
/// history and the earlier input items.</para>
/// <para>Parameters: function tools become chat tools and the service's <c>extraTools</c> are added;
/// <c>code_interpreter</c> and <c>mcp</c> entries are left to the service, and any other hosted tool is refused, since
/// nobody would run it. <c>tool_choice</c> maps one to one (an <c>allowed_tools</c> choice narrows the tools sent),
/// <c>text.format</c> becomes <c>response_format</c>, <c>reasoning.effort</c> <c>reasoning_effort</c> (<c>xhigh</c> and
/// <c>max</c>, which chat does not have, as <c>high</c>),
/// <c>max_output_tokens</c> <c>max_completion_tokens</c>; <c>temperature</c>, <c>top_p</c>, <c>user</c>,
/// <c>text.verbosity</c> pass as they are and <c>parallel_tool_calls</c> when there are tools. <c>metadata</c>,
/// <c>store</c> and <c>include</c> are the gateway's own business and are not sent (except that
/// <c>message.output_text.logprobs</c> asks for <c>logprobs</c>). A stream asks for the usage chunk.</para>
/// <para><c>truncation: "auto"</c> with a known context window drops the oldest turns (from one user message to the
/// next) until the estimate fits, keeping the system messages and the last turn; without a window, or with
/// <c>disabled</c>, everything is sent and an over-long prompt is the upstream's 400.</para>
/// </remarks>
internal static class ResponsesToChat
{
    /// <summary>The chat function the service offers for the hosted <c>code_interpreter</c> tool (arguments <c>{"code": ...}</c>).</summary>
    public const string CodeInterpreterFunction = "code_interpreter";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The chat function the service offers for tool <paramref name="tool"/> of MCP server <paramref name="serverLabel"/>:
    /// <c>{label}__{tool}</c> in the characters and length OpenAI's function names allow (<c>^[a-zA-Z0-9_-]{1,64}$</c>;
    /// other characters become <c>_</c>, a longer name is cut and ends in a hash of the whole).
    /// </summary>
    public static string McpFunctionName(string serverLabel, string tool)
    {
        var name = new StringBuilder(serverLabel.Length + tool.Length + 2);
        foreach (var c in serverLabel + "__" + tool) name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        if (name.Length <= 64) return name.ToString();
        var hash = System.Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(serverLabel + "\n" + tool)))[..8];
        return name.ToString(0, 55) + "_" + hash;
    }

    /// <param name="request">The validated request.</param>
    /// <param name="history">Items of the responses this one continues, oldest first: each one's input items, then its output items, as stored.</param>
    /// <param name="extraTools">Chat function tools the service adds for hosted tools (chat's <c>{type:function,function:{...}}</c> shape).</param>
    /// <param name="stream">Ask for a stream (with the usage chunk).</param>
    /// <param name="chatBody">The chat completions body; empty when an error is returned.</param>
    /// <param name="contextWindowTokens">The model's context window, for <c>truncation: "auto"</c>; 0 when unknown.</param>
    /// <param name="referencedItems">
    /// Stored items the input's <c>item_reference</c>s name (<see cref="ResponsesCreate.ItemReferences"/>), looked up by
    /// the service among the caller's stored responses: clients that store (the AI SDK by default) send earlier
    /// assistant and reasoning items as references without <c>previous_response_id</c>. Items of
    /// <paramref name="history"/> and earlier input items resolve without it.
    /// </param>
    /// <returns>null, or the 400 to answer with (naming the field).</returns>
    public static ApiError? Convert(ResponsesCreate request, IReadOnlyList<JsonNode> history, IReadOnlyList<JsonObject> extraTools, bool stream, out byte[] chatBody,
        long contextWindowTokens = 0, IReadOnlyDictionary<string, JsonObject>? referencedItems = null)
    {
        chatBody = [];
        try
        {
            var body = new JsonObject { ["model"] = request.Model };
            var messages = new MessageBuilder(history, referencedItems);
            if (request.Instructions is { Length: > 0 } instructions) messages.System(instructions);
            for (var i = 0; i < history.Count; i++) messages.Add(history[i], "previous_response_id", fromHistory: true);
            for (var i = 0; i < request.Input.Count; i++) messages.Add(request.Input[i], $"input[{i}]", fromHistory: false);
            var list = messages.Finish();
            if (request.Truncation == "auto" && contextWindowTokens > 0) Truncate(list, contextWindowTokens);
            if (list.Count == 0) throw ResponsesRequestException.Missing("input");
            body["messages"] = list;

            var tools = Tools(request, extraTools);
            var choice = ToolChoice(request, tools);
            if (tools.Count > 0)
            {
                body["tools"] = tools;
                if (choice is not null) body["tool_choice"] = choice;
                if (request.ParallelToolCalls is { } parallel) body["parallel_tool_calls"] = parallel;
            }
            if (ResponseFormat(request.Text) is { } format) body["response_format"] = format;
            if (request.Text?["verbosity"] is JsonValue verbosity) body["verbosity"] = verbosity.DeepClone();
            if (request.Reasoning?["effort"] is JsonValue effort)
                // Chat's scale (and every translator's) tops out at high: the Responses-only levels above it ask for the most there is.
                body["reasoning_effort"] = effort.GetValue<string>() is "xhigh" or "max" ? "high" : effort.GetValue<string>();
            if (request.MaxOutputTokens is { } max) body["max_completion_tokens"] = max;
            if (request.Temperature is { } temperature) body["temperature"] = temperature;
            if (request.TopP is { } topP) body["top_p"] = topP;
            if (request.Includes("message.output_text.logprobs"))
            {
                body["logprobs"] = true;
                if (request.TopLogprobs is > 0 and var top) body["top_logprobs"] = top;
            }
            if (request.User is { } user) body["user"] = user;
            if (stream)
            {
                body["stream"] = true;
                body["stream_options"] = new JsonObject { ["include_usage"] = true };
            }
            chatBody = Serialize(body);
            return null;
        }
        catch (ResponsesRequestException ex)
        {
            return ex.Error;
        }
    }

    private static byte[] Serialize(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) node.WriteTo(writer);
        return buffer.WrittenSpan.ToArray();
    }

    private static JsonArray Tools(ResponsesCreate request, IReadOnlyList<JsonObject> extraTools)
    {
        var tools = new JsonArray();
        for (var i = 0; i < request.Tools.Count; i++)
        {
            var tool = (JsonObject)request.Tools[i]!;
            var type = ResponsesCreate.Str(tool, "type")!;
            switch (type)
            {
                case "function":
                    var function = new JsonObject { ["name"] = ResponsesCreate.Str(tool, "name") };
                    if (ResponsesCreate.Str(tool, "description") is { } description) function["description"] = description;
                    if (tool["parameters"] is JsonObject parameters) function["parameters"] = parameters.DeepClone();
                    if (tool["strict"] is JsonValue strict) function["strict"] = strict.DeepClone();
                    tools.Add(new JsonObject { ["type"] = "function", ["function"] = function });
                    break;
                case "code_interpreter" or "mcp":
                    // Run by the service, which offers the model function equivalents through extraTools.
                    break;
                default:
                    throw new ResponsesRequestException(
                        $"The '{type}' tool is not available for model '{request.Model}': this gateway runs function, code_interpreter and mcp tools for models without a native Responses API.",
                        $"tools[{i}].type", "unsupported_value");
            }
        }
        foreach (var extra in extraTools) tools.Add(extra.DeepClone());
        return tools;
    }

    /// <summary>The chat tool_choice; an <c>allowed_tools</c> choice also removes the tools it does not allow from <paramref name="tools"/>.</summary>
    private static JsonNode? ToolChoice(ResponsesCreate request, JsonArray tools)
    {
        switch (request.ToolChoice)
        {
            case null:
                return null;
            case JsonValue mode:
                return mode.DeepClone();
        }
        var choice = (JsonObject)request.ToolChoice;
        var type = ResponsesCreate.Str(choice, "type")!;
        switch (type)
        {
            case "function":
                return Function(ResponsesCreate.Str(choice, "name")!);
            case "code_interpreter":
                return Function(CodeInterpreterFunction);
            case "mcp":
                // One named tool of the server is that function; the whole server has no single-function form, so any tool call is required.
                return ResponsesCreate.Str(choice, "name") is { } name ? Function(McpFunctionName(ResponsesCreate.Str(choice, "server_label")!, name)) : JsonValue.Create("required");
            case "allowed_tools":
                var allowed = new HashSet<string>(StringComparer.Ordinal);
                foreach (var entry in (JsonArray)choice["tools"]!)
                {
                    if (entry is not JsonObject t) continue;
                    switch (ResponsesCreate.Str(t, "type"))
                    {
                        case "function" when ResponsesCreate.Str(t, "name") is { } n: allowed.Add(n); break;
                        case "code_interpreter": allowed.Add(CodeInterpreterFunction); break;
                        case "mcp" when ResponsesCreate.Str(t, "server_label") is { } label:
                            var prefix = McpFunctionName(label, "");
                            foreach (var tool in tools)
                                if (FunctionName(tool) is { } fn && fn.StartsWith(prefix, StringComparison.Ordinal)) allowed.Add(fn);
                            break;
                    }
                }
                for (var i = tools.Count - 1; i >= 0; i--)
                    if (FunctionName(tools[i]) is not { } fn || !allowed.Contains(fn)) tools.RemoveAt(i);
                return JsonValue.Create(ResponsesCreate.Str(choice, "mode"));
            default:
                throw new ResponsesRequestException($"The tool choice '{type}' is not available for model '{request.Model}': its tool does not run for models without a native Responses API.", "tool_choice.type", "unsupported_value");
        }

        JsonObject Function(string name)
        {
            var offered = false;
            foreach (var tool in tools) offered |= FunctionName(tool) == name;
            if (!offered) throw new ResponsesRequestException($"Tool choice '{name}' not found in 'tools' parameter.", "tool_choice", "invalid_value");
            return new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } };
        }
    }

    private static string? FunctionName(JsonNode? chatTool) =>
        chatTool?["function"] is JsonObject f && f["name"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static JsonObject? ResponseFormat(JsonObject? text)
    {
        if (text?["format"] is not JsonObject format) return null;
        switch (ResponsesCreate.Str(format, "type"))
        {
            case "json_object":
                return new JsonObject { ["type"] = "json_object" };
            case "json_schema":
                var schema = new JsonObject { ["name"] = ResponsesCreate.Str(format, "name") };
                if (ResponsesCreate.Str(format, "description") is { } description) schema["description"] = description;
                schema["schema"] = format["schema"]!.DeepClone();
                if (format["strict"] is JsonValue strict) schema["strict"] = strict.DeepClone();
                return new JsonObject { ["type"] = "json_schema", ["json_schema"] = schema };
            default:
                return null; // text: the chat default
        }
    }

    /// <summary>Drops the oldest turns (a user message up to the next one) while the estimate exceeds the window.</summary>
    private static void Truncate(JsonArray messages, long window)
    {
        var sizes = new long[messages.Count];
        long total = Pricing.TokenEstimator.ReplyPriming;
        for (var i = 0; i < messages.Count; i++)
        {
            sizes[i] = Pricing.TokenEstimator.MessageOverhead + Pricing.TokenEstimator.CountTextTokens(messages[i]!.ToJsonString());
            total += sizes[i];
        }
        var first = 0;
        while (first < messages.Count && Role(messages[first]) == "system") first++;
        while (total > window)
        {
            // The next turn starts at the next user message after the first non-system one; the last turn always stays.
            var next = first + 1;
            while (next < messages.Count && Role(messages[next]) != "user") next++;
            if (next >= messages.Count) return;
            for (var i = first; i < next; i++) total -= sizes[i];
            for (var i = next - 1; i >= first; i--) messages.RemoveAt(i);
            Array.Copy(sizes, next, sizes, first, sizes.Length - next);
            Array.Resize(ref sizes, sizes.Length - (next - first));
        }

        static string? Role(JsonNode? message) => message?["role"]?.GetValue<string>();
    }

    /// <summary>Builds the chat messages item by item, merging an assistant turn's items into one message.</summary>
    private sealed class MessageBuilder
    {
        private readonly JsonArray _messages = [];
        private readonly Dictionary<string, JsonObject> _byId = new(StringComparer.Ordinal);
        private JsonObject? _assistant;
        private StringBuilder? _assistantText;
        private JsonArray? _pendingUserParts;

        public MessageBuilder(IReadOnlyList<JsonNode> history, IReadOnlyDictionary<string, JsonObject>? referenced)
        {
            if (referenced is not null)
                foreach (var (id, item) in referenced) _byId[id] = item;
            foreach (var item in history)
                if (item is JsonObject o && o["id"] is JsonValue id && id.GetValueKind() == JsonValueKind.String) _byId.TryAdd(id.GetValue<string>(), o);
        }

        public void System(string text) => _messages.Add(new JsonObject { ["role"] = "system", ["content"] = text });

        public void Add(JsonNode? node, string at, bool fromHistory)
        {
            if (node is not JsonObject item) throw ResponsesRequestException.Type(at, "an object", node);
            var type = ResponsesCreate.Str(item, "type") ?? "message";
            if (type == "item_reference")
            {
                var id = ResponsesCreate.Str(item, "id")!;
                if (!_byId.TryGetValue(id, out var referenced) || ResponsesCreate.Str(referenced, "type") == "item_reference")
                    throw new ResponsesRequestException($"Item with id '{id}' not found.", $"{at}.id", "invalid_value");
                item = referenced;
                type = ResponsesCreate.Str(item, "type") ?? "message";
            }
            else if (!fromHistory && item["id"] is JsonValue ownId && ownId.GetValueKind() == JsonValueKind.String)
            {
                _byId.TryAdd(ownId.GetValue<string>(), item);
            }
            if (type != "function_call_output") FlushUserParts();
            switch (type)
            {
                case "message":
                    Message(item, at);
                    break;
                case "reasoning":
                    Reasoning(item);
                    break;
                case "function_call":
                    AddToolCall(ResponsesCreate.Str(item, "call_id")!, ResponsesCreate.Str(item, "name")!, ResponsesCreate.Str(item, "arguments")!);
                    break;
                case "function_call_output":
                    CloseAssistant();
                    _messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = ResponsesCreate.Str(item, "call_id"), ["content"] = ToolOutput(item["output"], $"{at}.output") });
                    break;
                case "code_interpreter_call":
                    var code = ResponsesCreate.Str(item, "code", at) ?? "";
                    var callId = ResponsesCreate.Str(item, "id", at) ?? ResponsesIds.New("ci");
                    AddToolCall(callId, CodeInterpreterFunction, new JsonObject { ["code"] = code }.ToJsonString(ChatToResponses.CompactJson));
                    CloseAssistant();
                    _messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = callId, ["content"] = CodeOutputs(item["outputs"]) });
                    break;
                case "mcp_call":
                    var mcpId = ResponsesCreate.Str(item, "id", at) ?? ResponsesIds.New("mcp");
                    var name = McpFunctionName(ResponsesCreate.Str(item, "server_label", at) ?? "", ResponsesCreate.Str(item, "name", at) ?? "");
                    AddToolCall(mcpId, name, ResponsesCreate.Str(item, "arguments", at) ?? "{}");
                    CloseAssistant();
                    var result = ResponsesCreate.Str(item, "output", at) ?? (item["error"] is { } error ? "Error: " + (error is JsonValue ev && ev.GetValueKind() == JsonValueKind.String ? ev.GetValue<string>() : error.ToJsonString()) : "");
                    _messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = mcpId, ["content"] = result });
                    break;
                case "mcp_list_tools" or "mcp_approval_request" or "mcp_approval_response":
                    // The service's own bookkeeping: the tools are offered as functions and approvals are acted on by it.
                    break;
                default:
                    throw new ResponsesRequestException(
                        $"Input items of type '{type}' cannot be sent to a model without a native Responses API: only messages, reasoning, function calls and their outputs, and the code_interpreter and mcp calls this gateway ran can.",
                        fromHistory ? "previous_response_id" : $"{at}.type", "unsupported_value");
            }
        }

        public JsonArray Finish()
        {
            FlushUserParts();
            CloseAssistant();
            return _messages;
        }

        private void Message(JsonObject item, string at)
        {
            var role = ResponsesCreate.Str(item, "role")!;
            if (role == "assistant")
            {
                if (_assistant?["tool_calls"] is not null) CloseAssistant();
                var assistant = Assistant();
                switch (item["content"])
                {
                    case JsonValue text:
                        AppendText(text.GetValue<string>());
                        break;
                    case JsonArray parts:
                        foreach (var part in parts)
                        {
                            if (part is not JsonObject p) continue;
                            if (ResponsesCreate.Str(p, "type") == "refusal") assistant["refusal"] = ResponsesCreate.Str(p, "refusal");
                            else if (ResponsesCreate.Str(p, "text") is { } t) AppendText(t);
                        }
                        break;
                }
                return;
            }
            CloseAssistant();
            var chatRole = role == "developer" ? "system" : role;
            var content = item["content"] switch
            {
                JsonValue text => (JsonNode)text.DeepClone(),
                JsonArray parts => Parts(parts, $"{at}.content", chatRole == "system"),
                _ => "",
            };
            _messages.Add(new JsonObject { ["role"] = chatRole, ["content"] = content });
        }

        private void Reasoning(JsonObject item)
        {
            if (_assistant is not null && (_assistantText is { Length: > 0 } || _assistant["tool_calls"] is not null || _assistant["reasoning_content"] is not null)) CloseAssistant();
            var text = new StringBuilder();
            foreach (var name in (ReadOnlySpan<string>)["summary", "content"])
            {
                if (item[name] is not JsonArray parts) continue;
                foreach (var part in parts)
                {
                    if (part is not JsonObject p || ResponsesCreate.Str(p, "text") is not { } t) continue;
                    if (text.Length > 0) text.Append("\n\n");
                    text.Append(t);
                }
                if (text.Length > 0) break;
            }
            var assistant = Assistant();
            if (text.Length > 0) assistant["reasoning_content"] = text.ToString();
            if (ThinkingBlocks(item) is { } blocks) assistant["thinking_blocks"] = blocks;
        }

        /// <summary>The <c>thinking_blocks</c> kept in a reasoning item's <c>encrypted_content</c>, or null (absent, or OpenAI's own).</summary>
        private static JsonArray? ThinkingBlocks(JsonObject item)
        {
            if (ResponsesCreate.Str(item, "encrypted_content") is not { Length: > 1 } encrypted || encrypted[0] != '[') return null;
            try
            {
                return JsonNode.Parse(encrypted, documentOptions: Json.JsonText.NodeOptions) is JsonArray blocks && blocks.All(b => b is JsonObject o && o["type"] is JsonValue) ? blocks : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        private void AddToolCall(string id, string name, string arguments)
        {
            var assistant = Assistant();
            if (assistant["tool_calls"] is not JsonArray calls) assistant["tool_calls"] = calls = [];
            calls.Add(new JsonObject
            {
                ["id"] = id,
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments },
            });
        }

        private JsonObject Assistant()
        {
            if (_assistant is null)
            {
                _assistant = new JsonObject { ["role"] = "assistant" };
                _assistantText = new StringBuilder();
            }
            return _assistant;
        }

        private void AppendText(string text) => _assistantText!.Append(text);

        private void CloseAssistant()
        {
            if (_assistant is null) return;
            var message = new JsonObject { ["role"] = "assistant" };
            // Chat wants content null (not "") beside tool calls with no text.
            message["content"] = _assistantText!.Length > 0 ? _assistantText.ToString() : null;
            foreach (var name in (ReadOnlySpan<string>)["refusal", "reasoning_content", "thinking_blocks", "tool_calls"])
                if (_assistant[name] is { } value) message[name] = value.DeepClone();
            _messages.Add(message);
            _assistant = null;
            _assistantText = null;
        }

        /// <summary>Images and files of function outputs, which a tool message cannot carry, follow the tool messages as a user message.</summary>
        private void FlushUserParts()
        {
            if (_pendingUserParts is null) return;
            _messages.Add(new JsonObject { ["role"] = "user", ["content"] = _pendingUserParts });
            _pendingUserParts = null;
        }

        private JsonNode ToolOutput(JsonNode? output, string at)
        {
            if (output is JsonValue text) return text.DeepClone();
            var parts = Parts((JsonArray)output!, at, textOnly: false);
            var texts = new JsonArray();
            foreach (var part in parts)
            {
                if (ResponsesCreate.Str((JsonObject)part!, "type") == "text") texts.Add(part!.DeepClone());
                else (_pendingUserParts ??= []).Add(part!.DeepClone());
            }
            // Text alone goes as a string, the form every chat server and translator takes for a tool result.
            var joined = new StringBuilder();
            foreach (var part in texts) joined.Append(part!["text"]!.GetValue<string>());
            return joined.ToString();
        }

        private static string CodeOutputs(JsonNode? outputs)
        {
            var text = new StringBuilder();
            if (outputs is JsonArray list)
                foreach (var output in list)
                {
                    if (output is not JsonObject o) continue;
                    if (ResponsesCreate.Str(o, "logs") is { } logs) text.Append(logs);
                    else if (ResponsesCreate.Str(o, "url") is { } url) text.Append("[image: ").Append(url).Append(']');
                    if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
                }
            return text.ToString();
        }

        /// <summary>Input content parts as chat parts: input_text as text, input_image as image_url, input_file (inline data) as file.</summary>
        private static JsonArray Parts(JsonArray parts, string at, bool textOnly)
        {
            var chat = new JsonArray();
            for (var i = 0; i < parts.Count; i++)
            {
                if (parts[i] is not JsonObject part) continue;
                var where = $"{at}[{i}]";
                var type = ResponsesCreate.Str(part, "type");
                if (type is "input_text" or "output_text")
                {
                    chat.Add(new JsonObject { ["type"] = "text", ["text"] = ResponsesCreate.Str(part, "text") });
                    continue;
                }
                if (textOnly)
                    throw new ResponsesRequestException($"Invalid '{where}': a system or developer message can only hold text.", $"{where}.type", "invalid_value");
                switch (type)
                {
                    case "input_image":
                        if (ResponsesCreate.Str(part, "image_url") is not { } url)
                            throw new ResponsesRequestException($"Invalid '{where}': images by 'file_id' need OpenAI's Files API, which models without a native Responses API do not have; send 'image_url' (an https or data URL).", $"{where}.file_id", "unsupported_value");
                        var image = new JsonObject { ["url"] = url };
                        if (ResponsesCreate.Str(part, "detail") is { } detail && detail is "low" or "high" or "auto") image["detail"] = detail;
                        chat.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = image });
                        break;
                    case "input_file":
                        if (ResponsesCreate.Str(part, "file_data") is not { } data)
                            throw new ResponsesRequestException($"Invalid '{where}': files by 'file_id' or 'file_url' cannot be sent to a model without a native Responses API; send the file inline as 'file_data'.", $"{where}.file_data", "unsupported_value");
                        var file = new JsonObject { ["file_data"] = data };
                        if (ResponsesCreate.Str(part, "filename") is { } filename) file["filename"] = filename;
                        chat.Add(new JsonObject { ["type"] = "file", ["file"] = file });
                        break;
                    default:
                        throw ResponsesRequestException.Value($"{where}.type", type ?? "", "input_text", "input_image", "input_file");
                }
            }
            return chat;
        }
    }
}
