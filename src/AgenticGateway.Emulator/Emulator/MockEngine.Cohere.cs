using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// Cohere's v2 API and the rerank APIs that share its request shape, as cohere-openapi.yaml documents them:
/// <c>POST /v2/chat</c> (JSON, or SSE with <c>event:</c> lines and a final <c>data: [DONE]</c> when <c>stream</c> is
/// true), <c>POST /v2/embed</c>, <c>POST /v2/rerank</c> and <c>/v1/rerank</c> (Cohere's shapes; a <c>jina-*</c> model
/// on <c>/v1/rerank</c> answers as Jina AI does), and vLLM's <c>POST /rerank</c>. Bearer auth; Cohere's errors are
/// <c>{"id","message"}</c>, Jina's <c>{"detail"}</c>, vLLM's OpenAI-shaped.
/// </summary>
internal sealed partial class MockEngine
{
    private static bool CohereRoute(IMockExchange exchange, string path) =>
        exchange.Method == "POST" && path is "/v2/chat" or "/v2/embed" or "/v2/rerank" or "/v1/rerank" or "/rerank";

    private enum RerankShape { CohereV1, CohereV2, Jina, Vllm }

    private async Task<bool> ServeCohereAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(exchange.RequestBody); }
        catch (JsonException ex)
        {
            await CohereErrorAsync(exchange, 400, $"invalid request: could not parse the JSON body ({ex.Message})", cancellationToken);
            return true;
        }
        using (document)
        {
            var body = document.RootElement;
            var model = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : null;
            var shape = path switch
            {
                "/v2/rerank" => RerankShape.CohereV2,
                "/v1/rerank" when model?.StartsWith("jina-", StringComparison.Ordinal) == true => RerankShape.Jina,
                "/v1/rerank" => RerankShape.CohereV1,
                _ => RerankShape.Vllm,
            };
            var rerank = path.EndsWith("/rerank", StringComparison.Ordinal);
            if (requiredApiKey is not null && !Authorized(exchange))
            {
                if (rerank && shape == RerankShape.Jina) await WriteJsonAsync(exchange, 401, w => { w.WriteStartObject(); w.WriteString("detail", "Invalid API key"); w.WriteEndObject(); }, cancellationToken);
                else if (rerank && shape == RerankShape.Vllm) await WriteErrorAsync(exchange, 401, "Unauthorized", "invalid_request_error", null, null, cancellationToken);
                else await CohereErrorAsync(exchange, 401, "invalid api token", cancellationToken);
                return true;
            }
            if (model is null)
            {
                await CohereErrorAsync(exchange, 400, "invalid request: model is required", cancellationToken);
                return true;
            }
            var settings = defaults.WithHeaders(exchange);
            if (await BeginAsync(model, settings, f => CohereFaultAsync(exchange, f, cancellationToken), cancellationToken) is not { } fault) return true;
            try
            {
                if (path == "/v2/chat") await CohereChatAsync(exchange, body, model, settings, fault, cancellationToken);
                else if (path == "/v2/embed") await CohereEmbedAsync(exchange, body, model, fault, cancellationToken);
                else await RerankAsync(exchange, body, model, shape, fault, cancellationToken);
            }
            catch (Exception ex) when (Unreadable(ex))
            {
                await CohereErrorAsync(exchange, 400, $"invalid request: {ex.Message}", cancellationToken);
            }
        }
        return true;
    }

    private async Task CohereChatAsync(IMockExchange exchange, JsonElement body, string model, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            await CohereErrorAsync(exchange, 400, "invalid request: messages is required and must not be empty", cancellationToken);
            return;
        }
        string? lastRole = null;
        foreach (var message in messages.EnumerateArray())
        {
            lastRole = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            if (lastRole is not ("system" or "user" or "assistant" or "tool"))
            {
                await CohereErrorAsync(exchange, 400, $"invalid request: message role must be one of system, user, assistant, tool; got '{lastRole}'", cancellationToken);
                return;
            }
            if (lastRole == "tool" && !(message.TryGetProperty("tool_call_id", out var callIdField) && callIdField.ValueKind == JsonValueKind.String))
            {
                await CohereErrorAsync(exchange, 400, "invalid request: tool messages need a tool_call_id", cancellationToken);
                return;
            }
        }
        // OpenAI's names that Cohere's v2 schema does not have: a translation that forgot to rename one fails here.
        foreach (var openAiOnly in new[] { "top_p", "stop", "n", "max_completion_tokens", "stream_options" })
        {
            if (!body.TryGetProperty(openAiOnly, out _)) continue;
            await CohereErrorAsync(exchange, 400, $"invalid request: unknown field: parameter {openAiOnly} is not a valid field", cancellationToken);
            return;
        }

        var seed = Hash(Encoding.UTF8.GetBytes(messages.GetRawText()));
        var promptTokens = CountPromptTokens(messages);
        var maxTokens = IntField(body, "max_tokens");
        // Tools are called unless tool_choice is NONE or the last message is already a tool result.
        var tools = new List<(string Id, string Name, List<string> Args)>();
        if (body.TryGetProperty("tools", out var toolList) && toolList.ValueKind == JsonValueKind.Array && toolList.GetArrayLength() > 0 && lastRole != "tool"
            && !(body.TryGetProperty("tool_choice", out var tc) && tc.GetString() == "NONE"))
        {
            var required = body.TryGetProperty("tool_choice", out var req) && req.GetString() == "REQUIRED";
            var i = 0;
            if (MockDirectives.TryToolCall(LastChatUserText(messages), out var directed, out var directedArgs)
                && toolList.EnumerateArray().Any(t => ToolName(t) == directed))
                tools.Add(($"{directed}_{seed % 0xFFFFFFFFFFFFUL:x12}", directed, MockText.Chunk(directedArgs)));
            else foreach (var tool in toolList.EnumerateArray().Take(required ? 3 : 1))
            {
                var fn = tool.GetProperty("function");
                var name = fn.GetProperty("name").GetString()!;
                var args = MockText.SampleFromSchema(fn.TryGetProperty("parameters", out var ps) ? ps : null);
                tools.Add(($"{name}_{(seed + (ulong)i++) % 0xFFFFFFFFFFFFUL:x12}", name, MockText.Chunk(args)));
            }
        }
        List<string> pieces = tools.Count > 0 ? []
            : lastRole == "tool" ? MockText.Tokenize(MockDirectives.ToolResultAnswer(TrailingChatToolResults(messages)))
            : MockText.Sentence(seed, 8 + (int)(seed % 17));
        if (tools.Count == 0 && body.TryGetProperty("response_format", out var rf) && rf.TryGetProperty("type", out var rft) && rft.GetString() == "json_object")
            pieces = MockText.Chunk(rf.TryGetProperty("json_schema", out var schema) ? MockText.SampleFromSchema(schema) : "{\"answer\":\"" + string.Concat(MockText.Sentence(seed, 6)) + "\"}");
        var plan = tools.Count > 0 ? MockText.Sentence(seed ^ 0x5EED, 6) : [];
        var finish = tools.Count > 0 ? "TOOL_CALL" : "COMPLETE";
        if (maxTokens is { } max && pieces.Count > max) { pieces = pieces.GetRange(0, Math.Max(0, max)); finish = "MAX_TOKENS"; }
        var outputTokens = plan.Count + pieces.Count + tools.Sum(t => t.Args.Count);
        var id = Guid.NewGuid().ToString();

        if (!BoolField(body, "stream"))
        {
            if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("id", id);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                if (tools.Count > 0)
                {
                    w.WriteString("tool_plan", string.Concat(plan));
                    WriteToolCalls(w, tools);
                }
                else
                {
                    w.WriteStartArray("content");
                    w.WriteStartObject();
                    w.WriteString("type", "text");
                    w.WriteString("text", string.Concat(pieces));
                    w.WriteEndObject();
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                w.WriteString("finish_reason", finish);
                WriteCohereUsage(w, promptTokens, outputTokens);
                w.WriteEndObject();
            }
            await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
            return;
        }

        await StartStreamAsync(exchange, settings, cancellationToken);
        var json = new ArrayBufferWriter<byte>(256);
        var delay = TokenDelay(settings);
        var sent = 0;
        async Task<bool> EmitAsync(string type, Action<Utf8JsonWriter> fields)
        {
            if (fault.Kind == MockFaultKind.Cut && sent >= fault.CutAfterChunks) { await CutAsync(exchange, sent, cancellationToken); return false; }
            if (sent > 0 && delay > TimeSpan.Zero && type is "content-delta" or "tool-call-delta" or "tool-plan-delta") await Task.Delay(delay, _time, cancellationToken);
            await WriteNamedEventAsync(exchange, json, type, w =>
            {
                w.WriteStartObject();
                w.WriteString("type", type);
                fields(w);
                w.WriteEndObject();
            }, cancellationToken);
            sent++;
            return true;
        }
        static void Message(Utf8JsonWriter w, Action<Utf8JsonWriter> inner)
        {
            w.WriteStartObject("delta");
            w.WriteStartObject("message");
            inner(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (!await EmitAsync("message-start", w => { w.WriteString("id", id); Message(w, m => m.WriteString("role", "assistant")); })) return;
        if (tools.Count > 0)
        {
            foreach (var piece in plan)
                if (!await EmitAsync("tool-plan-delta", w => Message(w, m => m.WriteString("tool_plan", piece)))) return;
            for (var t = 0; t < tools.Count; t++)
            {
                var (callId, name, args) = tools[t];
                var index = t;
                if (!await EmitAsync("tool-call-start", w =>
                {
                    w.WriteNumber("index", index);
                    Message(w, m =>
                    {
                        m.WriteStartObject("tool_calls");
                        m.WriteString("id", callId);
                        m.WriteString("type", "function");
                        m.WriteStartObject("function");
                        m.WriteString("name", name);
                        m.WriteString("arguments", "");
                        m.WriteEndObject();
                        m.WriteEndObject();
                    });
                })) return;
                foreach (var piece in args)
                {
                    if (!await EmitAsync("tool-call-delta", w =>
                    {
                        w.WriteNumber("index", index);
                        Message(w, m => { m.WriteStartObject("tool_calls"); m.WriteStartObject("function"); m.WriteString("arguments", piece); m.WriteEndObject(); m.WriteEndObject(); });
                    })) return;
                }
                if (!await EmitAsync("tool-call-end", w => w.WriteNumber("index", index))) return;
            }
        }
        else
        {
            if (!await EmitAsync("content-start", w =>
            {
                w.WriteNumber("index", 0);
                Message(w, m => { m.WriteStartObject("content"); m.WriteString("type", "text"); m.WriteString("text", ""); m.WriteEndObject(); });
            })) return;
            foreach (var piece in pieces)
            {
                if (!await EmitAsync("content-delta", w =>
                {
                    w.WriteNumber("index", 0);
                    Message(w, m => { m.WriteStartObject("content"); m.WriteString("text", piece); m.WriteEndObject(); });
                })) return;
            }
            if (!await EmitAsync("content-end", w => w.WriteNumber("index", 0))) return;
        }
        if (!await EmitAsync("message-end", w =>
        {
            w.WriteStartObject("delta");
            w.WriteString("finish_reason", finish);
            WriteCohereUsage(w, promptTokens, outputTokens);
            w.WriteEndObject();
        })) return;
        await exchange.WriteAsync(Done, cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    private static void WriteCohereUsage(Utf8JsonWriter w, int input, int output)
    {
        w.WriteStartObject("usage");
        w.WriteStartObject("billed_units");
        w.WriteNumber("input_tokens", input);
        w.WriteNumber("output_tokens", output);
        w.WriteEndObject();
        w.WriteStartObject("tokens");
        // Cohere's tokens include its own prompt template; billed units are what the caller wrote.
        w.WriteNumber("input_tokens", input + 66);
        w.WriteNumber("output_tokens", output);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private async Task CohereEmbedAsync(IMockExchange exchange, JsonElement body, string model, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("input_type", out var inputType) || inputType.ValueKind != JsonValueKind.String)
        {
            await CohereErrorAsync(exchange, 400, "invalid request: input_type is required", cancellationToken);
            return;
        }
        if (!body.TryGetProperty("texts", out var texts) || texts.ValueKind != JsonValueKind.Array || texts.GetArrayLength() == 0)
        {
            await CohereErrorAsync(exchange, 400, "invalid request: texts must be a non-empty list", cancellationToken);
            return;
        }
        var types = body.TryGetProperty("embedding_types", out var et) && et.ValueKind == JsonValueKind.Array ? et.EnumerateArray().Select(t => t.GetString()!).ToList() : ["float"];
        var dimensions = IntField(body, "output_dimension") ?? (model.Contains("light", StringComparison.Ordinal) ? 384 : 1024);
        var items = texts.EnumerateArray().Select(t => t.GetString()!).ToList();
        var vector = new float[dimensions];
        var buffer = new ArrayBufferWriter<byte>(items.Count * dimensions * 12 + 256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", Guid.NewGuid().ToString());
            w.WriteStartArray("texts");
            foreach (var t in items) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteStartObject("embeddings");
            foreach (var type in types)
            {
                if (type != "float") continue;
                w.WriteStartArray("float");
                foreach (var item in items)
                {
                    FillVector(vector, Hash(Encoding.UTF8.GetBytes(item)));
                    w.WriteStartArray();
                    foreach (var v in vector) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteStartObject("meta");
            w.WriteStartObject("api_version");
            w.WriteString("version", "2");
            w.WriteEndObject();
            w.WriteStartObject("billed_units");
            w.WriteNumber("input_tokens", items.Sum(MockText.CountTokens));
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
    }

    private async Task RerankAsync(IMockExchange exchange, JsonElement body, string model, RerankShape shape, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("query", out var query) || query.ValueKind != JsonValueKind.String
            || !body.TryGetProperty("documents", out var documents) || documents.ValueKind != JsonValueKind.Array || documents.GetArrayLength() == 0)
        {
            var message = "query and documents are required";
            if (shape == RerankShape.Vllm) await WriteErrorAsync(exchange, 400, message, "BadRequestError", null, null, cancellationToken);
            else if (shape == RerankShape.Jina) await WriteJsonAsync(exchange, 422, w => { w.WriteStartObject(); w.WriteString("detail", message); w.WriteEndObject(); }, cancellationToken);
            else await CohereErrorAsync(exchange, 400, "invalid request: " + message, cancellationToken);
            return;
        }
        if (shape == RerankShape.CohereV2 && documents.EnumerateArray().Any(d => d.ValueKind != JsonValueKind.String))
        {
            await CohereErrorAsync(exchange, 400, "invalid request: documents must be a list of strings", cancellationToken);
            return;
        }
        var texts = documents.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.String ? d.GetString()! : d.TryGetProperty("text", out var t) ? t.GetString()! : d.GetRawText()).ToList();
        // Relevance: the share of the query's words a document contains, nudged by a hash so ties are stable.
        var words = query.GetString()!.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var scored = texts.Select((text, index) =>
        {
            var lower = text.ToLowerInvariant();
            var overlap = words.Length == 0 ? 0 : words.Count(w => lower.Contains(w, StringComparison.Ordinal)) / (double)words.Length;
            var jitter = Hash(Encoding.UTF8.GetBytes(text)) % 1000 / 100000.0;
            return (Index: index, Score: Math.Round(Math.Min(0.999, overlap * 0.98 + jitter), 6));
        }).OrderByDescending(s => s.Score).ThenBy(s => s.Index).ToList();
        var topN = IntField(body, "top_n") is { } n && n > 0 ? Math.Min(n, scored.Count) : scored.Count;
        var returnDocuments = shape switch
        {
            RerankShape.CohereV2 => false,
            RerankShape.Jina => !(body.TryGetProperty("return_documents", out var rd) && rd.ValueKind == JsonValueKind.False),
            RerankShape.Vllm => true,
            _ => BoolField(body, "return_documents"),
        };
        var tokens = MockText.CountTokens(query.GetString()!) * texts.Count + texts.Sum(MockText.CountTokens);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (shape != RerankShape.Jina) w.WriteString("id", (shape == RerankShape.Vllm ? "rerank-" : "") + Guid.NewGuid().ToString(shape == RerankShape.Vllm ? "N" : "D"));
            if (shape is RerankShape.Jina or RerankShape.Vllm) w.WriteString("model", model);
            if (shape is RerankShape.Jina or RerankShape.Vllm)
            {
                w.WriteStartObject("usage");
                if (shape == RerankShape.Vllm) w.WriteNumber("prompt_tokens", tokens);
                w.WriteNumber("total_tokens", tokens);
                w.WriteEndObject();
            }
            w.WriteStartArray("results");
            foreach (var (index, score) in scored.Take(topN))
            {
                w.WriteStartObject();
                w.WriteNumber("index", index);
                if (returnDocuments)
                {
                    w.WritePropertyName("document");
                    if (shape == RerankShape.CohereV1 && documents[index].ValueKind == JsonValueKind.Object) documents[index].WriteTo(w);
                    else
                    {
                        w.WriteStartObject();
                        w.WriteString("text", texts[index]);
                        w.WriteEndObject();
                    }
                }
                w.WriteNumber("relevance_score", score);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (shape is RerankShape.CohereV1 or RerankShape.CohereV2)
            {
                w.WriteStartObject("meta");
                w.WriteStartObject("api_version");
                w.WriteString("version", shape == RerankShape.CohereV2 ? "2" : "1");
                if (shape == RerankShape.CohereV2) w.WriteBoolean("is_experimental", false);
                w.WriteEndObject();
                w.WriteStartObject("billed_units");
                // A search unit is a query with up to 100 documents.
                w.WriteNumber("search_units", (texts.Count + 99) / 100);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
    }

    /// <summary>Faults in Cohere's shape: status faults answer <c>{"id","message"}</c>, the rest as every format does.</summary>
    private async Task<bool> CohereFaultAsync(IMockExchange exchange, MockFault fault, CancellationToken cancellationToken)
    {
        switch (fault.Kind)
        {
            case MockFaultKind.Reset or MockFaultKind.Timeout or MockFaultKind.Malformed:
                return await ApplyPreResponseFaultAsync(exchange, fault, "", cancellationToken);
            case MockFaultKind.Status:
                if (fault.RetryAfterSeconds is { } ra) exchange.SetHeader("retry-after", ra.ToString(CultureInfo.InvariantCulture));
                var message = fault.Status switch
                {
                    400 => "invalid request",
                    401 or 498 => "invalid api token",
                    404 => "model not found",
                    429 => "You are using a Trial key, which is limited to 10 API calls / minute.",
                    503 => "service unavailable",
                    _ => "internal server error",
                };
                await CohereErrorAsync(exchange, fault.Status, fault.Message ?? message, cancellationToken);
                return true;
            case MockFaultKind.ContextWindow:
                await CohereErrorAsync(exchange, 400, fault.Message ?? "invalid request: message must be at most 128000 tokens", cancellationToken);
                return true;
            default:
                return false;
        }
    }

    private static Task CohereErrorAsync(IMockExchange exchange, int status, string message, CancellationToken cancellationToken) =>
        WriteJsonAsync(exchange, status, w =>
        {
            w.WriteStartObject();
            w.WriteString("id", Guid.NewGuid().ToString());
            w.WriteString("message", message);
            w.WriteEndObject();
        }, cancellationToken);
}
