using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// The AWS Bedrock Runtime dialect: <c>POST /model/{modelId}/converse</c>, <c>/converse-stream</c> (AWS event-stream
/// frames) and <c>/invoke</c> for Titan and Cohere embeddings. With an API key configured, requests must carry a valid
/// SigV4 signature made with that key as the secret access key (any access key id), or the key as a Bedrock API key
/// (<c>Authorization: Bearer</c>). Errors use Bedrock's <c>{"message"}</c> body and <c>x-amzn-ErrorType</c> header.
/// </summary>
internal sealed partial class MockEngine
{
    private static bool BedrockRoute(IMockExchange exchange, string path) =>
        exchange.Method == "POST" && path.StartsWith("/model/", StringComparison.Ordinal)
        && (path.EndsWith("/converse", StringComparison.Ordinal) || path.EndsWith("/converse-stream", StringComparison.Ordinal) || path.EndsWith("/invoke", StringComparison.Ordinal));

    private async Task<bool> ServeBedrockAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        if (requiredApiKey is not null && BedrockAuthFailure(exchange, path) is { } failure)
        {
            await WriteBedrockErrorAsync(exchange, 403, failure.Type, failure.Message, cancellationToken);
            return true;
        }
        var operation = path[(path.LastIndexOf('/') + 1)..];
        var model = Uri.UnescapeDataString(path["/model/".Length..path.LastIndexOf('/')]);
        var settings = defaults.WithHeaders(exchange);
        if (await BeginAsync(model, settings, f => ApplyBedrockFaultAsync(exchange, f, model, cancellationToken), cancellationToken) is not { } fault) return true;

        JsonDocument document;
        try { document = JsonDocument.Parse(exchange.RequestBody); }
        catch (JsonException)
        {
            await WriteBedrockErrorAsync(exchange, 400, "SerializationException", "Unexpected character found in the request body.", cancellationToken);
            return true;
        }
        using (document)
        {
            var body = document.RootElement;
            try
            {
                if (operation == "invoke") await BedrockEmbeddingsAsync(exchange, body, model, cancellationToken);
                else await ConverseAsync(exchange, body, model, operation == "converse-stream", settings, fault, cancellationToken);
            }
            catch (Exception ex) when (Unreadable(ex))
            {
                // Bedrock refuses a body it cannot read with a ValidationException; the emulator reads loosely, before it writes.
                await WriteBedrockErrorAsync(exchange, 400, "ValidationException", $"Malformed input request: {ex.Message}", cancellationToken);
            }
        }
        return true;
    }

    /// <summary>Null when the request is authorised; else the AWS exception and message to answer 403 with.</summary>
    private (string Type, string Message)? BedrockAuthFailure(IMockExchange exchange, string path)
    {
        var auth = exchange.RequestHeader("authorization");
        if (auth is null) return ("MissingAuthenticationTokenException", "Missing Authentication Token");
        if (auth.StartsWith("Bearer ", StringComparison.Ordinal))
            return auth.AsSpan(7).SequenceEqual(requiredApiKey) ? null : ("UnrecognizedClientException", "Invalid API Key format: Must start with pre-defined prefix");
        const string Mismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
        if (!auth.StartsWith(SigV4Signer.Algorithm + " ", StringComparison.Ordinal)) return ("IncompleteSignatureException", "Authorization header requires 'Credential' parameter.");
        var parts = auth[(SigV4Signer.Algorithm.Length + 1)..].Split(',', StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        if (!parts.TryGetValue("Credential", out var credential) || !parts.TryGetValue("SignedHeaders", out var signedHeaders) || !parts.ContainsKey("Signature"))
            return ("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.");
        var scope = credential.Split('/');
        if (scope.Length != 5 || scope[3] != BedrockTranslator.SigningService || scope[4] != "aws4_request")
            return ("InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.");
        if (!DateTimeOffset.TryParseExact(exchange.RequestHeader("x-amz-date"), "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt))
            return ("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var name in signedHeaders.Split(';'))
        {
            if (exchange.RequestHeader(name) is not { } value) return ("InvalidSignatureException", Mismatch);
            headers.Add(new(name, value));
        }
        // The path as the client sent it: each segment percent-encoded as AWS encodes URI labels.
        var wirePath = string.Join('/', path.Split('/').Select(s => SigV4Signer.UriEncode(Uri.UnescapeDataString(s))));
        var expected = SigV4Signer.Authorization(exchange.Method, wirePath, exchange.Query, headers, SigV4Signer.HexSha256(exchange.RequestBody.Span),
            new AwsCredentials(scope[0], requiredApiKey!, null), scope[2], scope[3], signedAt);
        return expected == auth ? null : ("InvalidSignatureException", Mismatch);
    }

    private async Task<bool> ApplyBedrockFaultAsync(IMockExchange exchange, MockFault fault, string model, CancellationToken cancellationToken)
    {
        switch (fault.Kind)
        {
            case MockFaultKind.Reset or MockFaultKind.Timeout:
                return await ApplyPreResponseFaultAsync(exchange, fault, model, cancellationToken);
            case MockFaultKind.Status:
                if (fault.RetryAfterSeconds is { } ra) exchange.SetHeader("retry-after", ra.ToString(CultureInfo.InvariantCulture));
                var (type, message) = fault.Status switch
                {
                    429 => ("ThrottlingException", "Too many requests, please wait before trying again."),
                    503 => ("ServiceUnavailableException", "Bedrock is unable to process your request."),
                    400 => ("ValidationException", "Malformed input request, please reformat your input and try again."),
                    401 or 403 => ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
                    404 => ("ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."),
                    408 => ("ModelTimeoutException", "Model has timed out in processing the request."),
                    424 => ("ModelErrorException", "Received server error (500) from model."),
                    _ => ("InternalServerException", "The server encountered an error processing your request."),
                };
                await WriteBedrockErrorAsync(exchange, fault.Status, type, fault.Message ?? message, cancellationToken);
                return true;
            case MockFaultKind.ContextWindow:
                await WriteBedrockErrorAsync(exchange, 400, "ValidationException", fault.Message ?? "Input is too long for requested model.", cancellationToken);
                return true;
            default:
                return false;
        }
    }

    private static async Task WriteBedrockErrorAsync(IMockExchange exchange, int status, string type, string message, CancellationToken cancellationToken)
    {
        exchange.SetHeader("x-amzn-ErrorType", type + ":http://internal.amazon.com/coral/com.amazon.bedrock/");
        exchange.SetHeader("x-amzn-RequestId", Guid.NewGuid().ToString());
        await WriteJsonAsync(exchange, status, w =>
        {
            w.WriteStartObject();
            w.WriteString("message", message);
            w.WriteEndObject();
        }, cancellationToken);
    }

    /// <summary>Checks what Converse checks before running a model; returns the ValidationException message, or null.</summary>
    private static string? ValidateConverse(JsonElement body)
    {
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
        var hasTools = body.TryGetProperty("toolConfig", out var tc) && tc.TryGetProperty("tools", out var t) && t.GetArrayLength() > 0;
        string? previousRole = null;
        var pendingToolUses = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var role = message.TryGetProperty("role", out var r) ? r.GetString() : null;
            if (index == 0 && role != "user") return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
            if (role == previousRole) return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.";
            if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array || content.GetArrayLength() == 0)
                return $"The content field in the Message object at messages.{index} is empty. Add a ContentBlock object to the content field and try again.";
            var results = new HashSet<string>(StringComparer.Ordinal);
            foreach (var block in content.EnumerateArray())
            {
                if (block.TryGetProperty("toolUse", out var use))
                {
                    if (!hasTools) return "The toolConfig field must be defined when using toolUse and toolResult content blocks.";
                    results.Add(use.GetProperty("toolUseId").GetString()!);
                }
                else if (block.TryGetProperty("toolResult", out var result))
                {
                    if (!hasTools) return "The toolConfig field must be defined when using toolUse and toolResult content blocks.";
                    if (!pendingToolUses.Remove(result.GetProperty("toolUseId").GetString()!))
                        return $"The number of toolResult blocks at messages.{index}.content exceeds the number of toolUse blocks of previous turn.";
                }
            }
            if (role == "user" && pendingToolUses.Count > 0)
                return $"Expected toolResult blocks at messages.{index}.content for the following Ids: {string.Join(", ", pendingToolUses)}";
            pendingToolUses = role == "assistant" ? results : [];
            previousRole = role;
            index++;
        }
        return null;
    }

    private sealed record ConverseAnswer(List<string> Reasoning, string? Signature, List<string> Text, (string Id, string Name, List<string> Args)? Tool, string StopReason, int InputTokens)
    {
        public int OutputTokens => Reasoning.Count + Text.Count + (Tool?.Args.Count ?? 0);
    }

    private static ConverseAnswer MakeConverseAnswer(JsonElement body, ulong seed, bool contentPolicy)
    {
        var messages = body.GetProperty("messages");
        var input = 3;
        foreach (var message in messages.EnumerateArray()) input += 3 + CountBlockTokens(message.GetProperty("content"));
        if (body.TryGetProperty("system", out var system)) input += CountBlockTokens(system);
        if (body.TryGetProperty("toolConfig", out var toolConfig)) input += MockText.CountTokens(toolConfig.GetRawText());

        if (contentPolicy) return new([], null, ["Sorry, the model cannot answer this question."], null, "guardrail_intervened", input);

        var reasoning = new List<string>();
        string? signature = null;
        if (body.TryGetProperty("additionalModelRequestFields", out var extra) && extra.TryGetProperty("thinking", out var thinking)
            && thinking.TryGetProperty("type", out var tt) && tt.GetString() == "enabled")
        {
            reasoning = MockText.Sentence(seed ^ 0x5bd1e995, 6);
            signature = "mock-signature-" + seed.ToString("x16", CultureInfo.InvariantCulture);
        }

        var last = messages[messages.GetArrayLength() - 1].GetProperty("content");
        var answeringToolResult = last.EnumerateArray().Any(b => b.TryGetProperty("toolResult", out _));
        if (toolConfig.ValueKind == JsonValueKind.Object && toolConfig.TryGetProperty("tools", out var tools) && tools.GetArrayLength() > 0 && !answeringToolResult)
        {
            var forced = toolConfig.TryGetProperty("toolChoice", out var fc) && fc.TryGetProperty("tool", out var fcTool) && fcTool.TryGetProperty("name", out var fcName) ? fcName.GetString() : null;
            if (MockDirectives.TryToolCall(BedrockLastUserText(messages), out var directed, out var directedArgs) && (forced is null || forced == directed)
                && tools.EnumerateArray().Any(x => x.TryGetProperty("toolSpec", out var ts) && ts.TryGetProperty("name", out var tn) && tn.GetString() == directed))
                return new(reasoning, signature, [], ("tooluse_mock" + seed.ToString("x12", CultureInfo.InvariantCulture), directed, MockText.Chunk(directedArgs)), "tool_use", input);
            var spec = tools[0].GetProperty("toolSpec");
            if (toolConfig.TryGetProperty("toolChoice", out var choice) && choice.TryGetProperty("tool", out var named))
                spec = tools.EnumerateArray().Select(x => x.GetProperty("toolSpec")).FirstOrDefault(s => s.GetProperty("name").GetString() == named.GetProperty("name").GetString(), spec);
            var schema = spec.TryGetProperty("inputSchema", out var inputSchema) && inputSchema.TryGetProperty("json", out var json) ? json : (JsonElement?)null;
            var args = MockText.Chunk(MockText.SampleFromSchema(schema));
            return new(reasoning, signature, [], ("tooluse_mock" + seed.ToString("x12", CultureInfo.InvariantCulture), spec.GetProperty("name").GetString()!, args), "tool_use", input);
        }

        var text = answeringToolResult
            ? MockText.Tokenize(MockDirectives.ToolResultAnswer(last.EnumerateArray().Where(b => b.TryGetProperty("toolResult", out _)).Select(b => BedrockResultText(b.GetProperty("toolResult")))))
            : MockText.Sentence(seed, 8 + (int)(seed % 17));
        var max = body.TryGetProperty("inferenceConfig", out var ic) && ic.TryGetProperty("maxTokens", out var mt) && mt.TryGetInt32(out var m) ? m : (int?)null;
        if (max is { } limit && reasoning.Count + text.Count > limit)
        {
            var room = Math.Max(0, limit - reasoning.Count);
            return new(reasoning, signature, text.GetRange(0, Math.Min(room, text.Count)), null, "max_tokens", input);
        }
        return new(reasoning, signature, text, null, "end_turn", input);
    }

    /// <summary>The text blocks of the last user message (where a test writes its directives).</summary>
    private static string? BedrockLastUserText(JsonElement messages)
    {
        for (var i = messages.GetArrayLength() - 1; i >= 0; i--)
        {
            var m = messages[i];
            if (!(m.TryGetProperty("role", out var role) && role.GetString() == "user" && m.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)) continue;
            var texts = content.EnumerateArray().Where(b => b.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String).Select(b => b.GetProperty("text").GetString()!).ToList();
            if (texts.Count > 0) return string.Join("\n", texts);
        }
        return null;
    }

    /// <summary>A toolResult's content as text: its text blocks, and its json blocks as JSON.</summary>
    private static string BedrockResultText(JsonElement result)
    {
        if (!result.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array) return "";
        return string.Join("\n", content.EnumerateArray().Select(b =>
            b.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
            : b.TryGetProperty("json", out var j) ? j.GetRawText() : ""));
    }

    private static int CountBlockTokens(JsonElement blocks)
    {
        var tokens = 0;
        foreach (var block in blocks.EnumerateArray())
        {
            if (block.TryGetProperty("text", out var text)) tokens += MockText.CountTokens(text.GetString() ?? "");
            else if (block.TryGetProperty("image", out _)) tokens += 85;
            else tokens += MockText.CountTokens(block.GetRawText());
        }
        return tokens;
    }

    private async Task ConverseAsync(IMockExchange exchange, JsonElement body, string model, bool stream, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        if (ValidateConverse(body) is { } invalid)
        {
            await WriteBedrockErrorAsync(exchange, 400, "ValidationException", invalid, cancellationToken);
            return;
        }
        var seed = Hash(Encoding.UTF8.GetBytes(body.GetProperty("messages").GetRawText()));
        var answer = MakeConverseAnswer(body, seed, fault.Kind == MockFaultKind.ContentPolicy);

        if (!stream)
        {
            if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
            if (TokenDelay(settings) is var d && d > TimeSpan.Zero) await Task.Delay(d * answer.OutputTokens, _time, cancellationToken);
            var buffer = new ArrayBufferWriter<byte>(1024);
            if (fault.Kind == MockFaultKind.Malformed) buffer.Write("{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":"u8);
            else using (var w = new Utf8JsonWriter(buffer)) WriteConverseResponse(w, answer);
            exchange.SetStatus(200);
            exchange.SetHeader("content-type", "application/json");
            exchange.SetHeader("x-amzn-RequestId", Guid.NewGuid().ToString());
            if (fault.Kind == MockFaultKind.Cut)
            {
                await exchange.WriteAsync(buffer.WrittenMemory[..(buffer.WrittenCount / 2)], cancellationToken);
                await exchange.FlushAsync(cancellationToken);
                await CutAsync(exchange, sent: 1, cancellationToken);
                return;
            }
            exchange.SetHeader("content-length", buffer.WrittenCount.ToString(CultureInfo.InvariantCulture));
            await exchange.WriteAsync(buffer.WrittenMemory, cancellationToken);
            await exchange.FlushAsync(cancellationToken);
            return;
        }

        exchange.SetStatus(200);
        exchange.SetHeader("content-type", BedrockTranslator.EventStreamContentType);
        exchange.SetHeader("x-amzn-RequestId", Guid.NewGuid().ToString());
        await FirstTokenAsync(exchange, settings, cancellationToken);
        var tokenDelay = TokenDelay(settings);
        var sent = 0;
        var json = new ArrayBufferWriter<byte>(256);

        // A stream broken by a fault ends as Bedrock ends one: with an exception frame, after the frames already sent.
        async ValueTask<bool> EmitAsync(string eventType, Action<Utf8JsonWriter> write, bool token = false)
        {
            if (fault.Kind == MockFaultKind.Cut && sent >= fault.CutAfterChunks)
            {
                await exchange.WriteAsync(EventStreamMessage.Exception("modelStreamErrorException",
                    "{\"message\":\"The model stream was interrupted.\",\"originalStatusCode\":500,\"originalMessage\":\"stream interrupted\"}"u8), cancellationToken);
                await exchange.FlushAsync(cancellationToken);
                return false;
            }
            if (token && tokenDelay > TimeSpan.Zero && sent > 0) await Task.Delay(tokenDelay, _time, cancellationToken);
            json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(json))
            {
                w.WriteStartObject();
                write(w);
                w.WriteEndObject();
            }
            var frame = EventStreamMessage.Event(eventType, json.WrittenSpan);
            if (fault.Kind == MockFaultKind.Malformed) frame[^1] ^= 0xFF; // a frame whose CRC does not match
            await exchange.WriteAsync(frame, cancellationToken);
            await exchange.FlushAsync(cancellationToken);
            sent++;
            return true;
        }

        if (!await EmitAsync("messageStart", w => w.WriteString("role", "assistant"))) return;
        var block = 0;
        if (answer.Reasoning.Count > 0)
        {
            foreach (var piece in answer.Reasoning)
                if (!await EmitAsync("contentBlockDelta", w => { w.WriteNumber("contentBlockIndex", 0); w.WriteStartObject("delta"); w.WriteStartObject("reasoningContent"); w.WriteString("text", piece); w.WriteEndObject(); w.WriteEndObject(); }, token: true)) return;
            if (!await EmitAsync("contentBlockDelta", w => { w.WriteNumber("contentBlockIndex", 0); w.WriteStartObject("delta"); w.WriteStartObject("reasoningContent"); w.WriteString("signature", answer.Signature); w.WriteEndObject(); w.WriteEndObject(); })) return;
            if (!await EmitAsync("contentBlockStop", w => w.WriteNumber("contentBlockIndex", 0))) return;
            block++;
        }
        var index = block;
        if (answer.Tool is { } tool)
        {
            if (!await EmitAsync("contentBlockStart", w =>
            {
                w.WriteNumber("contentBlockIndex", index);
                w.WriteStartObject("start");
                w.WriteStartObject("toolUse");
                w.WriteString("toolUseId", tool.Id);
                w.WriteString("name", tool.Name);
                w.WriteEndObject();
                w.WriteEndObject();
            })) return;
            foreach (var piece in tool.Args)
                if (!await EmitAsync("contentBlockDelta", w => { w.WriteNumber("contentBlockIndex", index); w.WriteStartObject("delta"); w.WriteStartObject("toolUse"); w.WriteString("input", piece); w.WriteEndObject(); w.WriteEndObject(); }, token: true)) return;
        }
        else
        {
            foreach (var piece in answer.Text)
                if (!await EmitAsync("contentBlockDelta", w => { w.WriteNumber("contentBlockIndex", index); w.WriteStartObject("delta"); w.WriteString("text", piece); w.WriteEndObject(); }, token: true)) return;
        }
        if (!await EmitAsync("contentBlockStop", w => w.WriteNumber("contentBlockIndex", index))) return;
        if (!await EmitAsync("messageStop", w => w.WriteString("stopReason", answer.StopReason))) return;
        await EmitAsync("metadata", w =>
        {
            WriteConverseUsage(w, answer);
            w.WriteStartObject("metrics");
            w.WriteNumber("latencyMs", 1 + answer.OutputTokens);
            w.WriteEndObject();
        });
    }

    private static void WriteConverseResponse(Utf8JsonWriter w, ConverseAnswer answer)
    {
        w.WriteStartObject();
        w.WriteStartObject("output");
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        w.WriteStartArray("content");
        if (answer.Reasoning.Count > 0)
        {
            w.WriteStartObject();
            w.WriteStartObject("reasoningContent");
            w.WriteStartObject("reasoningText");
            w.WriteString("text", string.Concat(answer.Reasoning));
            w.WriteString("signature", answer.Signature);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        if (answer.Tool is { } tool)
        {
            w.WriteStartObject();
            w.WriteStartObject("toolUse");
            w.WriteString("toolUseId", tool.Id);
            w.WriteString("name", tool.Name);
            w.WritePropertyName("input");
            using (var args = JsonDocument.Parse(string.Concat(tool.Args))) args.RootElement.WriteTo(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        else
        {
            w.WriteStartObject();
            w.WriteString("text", string.Concat(answer.Text));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteString("stopReason", answer.StopReason);
        WriteConverseUsage(w, answer);
        w.WriteStartObject("metrics");
        w.WriteNumber("latencyMs", 1 + answer.OutputTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteConverseUsage(Utf8JsonWriter w, ConverseAnswer answer)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("inputTokens", answer.InputTokens);
        w.WriteNumber("outputTokens", answer.OutputTokens);
        w.WriteNumber("totalTokens", answer.InputTokens + answer.OutputTokens);
        w.WriteEndObject();
    }

    /// <summary>InvokeModel for embedding models: Titan (one inputText) and Cohere Embed (texts).</summary>
    private async Task BedrockEmbeddingsAsync(IMockExchange exchange, JsonElement body, string model, CancellationToken cancellationToken)
    {
        var titan = BedrockEmbeddings.IsTitan(model);
        if (!titan && !BedrockEmbeddings.IsCohere(model))
        {
            await WriteBedrockErrorAsync(exchange, 400, "ValidationException", "The provided model identifier is invalid.", cancellationToken);
            return;
        }
        List<string> texts;
        if (titan && body.TryGetProperty("inputText", out var inputText) && inputText.ValueKind == JsonValueKind.String) texts = [inputText.GetString()!];
        else if (!titan && body.TryGetProperty("texts", out var arr) && arr.ValueKind == JsonValueKind.Array && arr.GetArrayLength() > 0 && body.TryGetProperty("input_type", out _))
            texts = arr.EnumerateArray().Select(x => x.GetString() ?? "").ToList();
        else
        {
            await WriteBedrockErrorAsync(exchange, 400, "ValidationException", titan ? "Malformed input request: #: required key [inputText] not found, please reformat your input and try again."
                : "Malformed input request: #: required key [input_type] not found, please reformat your input and try again.", cancellationToken);
            return;
        }
        var dimensions = titan ? (IntField(body, "dimensions") ?? (model.Contains("v1", StringComparison.Ordinal) ? 1536 : 1024)) : 1024;
        var vector = new float[Math.Clamp(dimensions, 1, 8192)];
        await WriteJsonAsync(exchange, 200, w =>
        {
            w.WriteStartObject();
            if (titan)
            {
                FillVector(vector, Hash(Encoding.UTF8.GetBytes(texts[0])));
                w.WriteStartArray("embedding");
                foreach (var v in vector) w.WriteNumberValue(v);
                w.WriteEndArray();
                w.WriteNumber("inputTextTokenCount", MockText.CountTokens(texts[0]));
            }
            else
            {
                w.WriteString("id", NewId(""));
                w.WriteStartArray("embeddings");
                foreach (var text in texts)
                {
                    FillVector(vector, Hash(Encoding.UTF8.GetBytes(text)));
                    w.WriteStartArray();
                    foreach (var v in vector) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WriteString("response_type", "embeddings_floats");
                w.WriteStartArray("texts");
                foreach (var text in texts) w.WriteStringValue(text);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }, cancellationToken);
    }
}
