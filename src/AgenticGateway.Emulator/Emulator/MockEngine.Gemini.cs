using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// Google's Gemini wire format: AI Studio (<c>/v1beta/models/{model}:generateContent</c>, <c>:streamGenerateContent</c>,
/// <c>:embedContent</c>, <c>:batchEmbedContents</c>; <c>x-goog-api-key</c> or <c>?key=</c>), Vertex AI
/// (<c>/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent|streamGenerateContent|predict</c>;
/// Bearer tokens) and an OAuth token endpoint (<c>POST /token</c>, jwt-bearer grant) for service-account tests.
/// Errors use Google's shape <c>{"error":{"code","message","status"}}</c>. A prompt containing "unsafe-demo" is
/// stopped with finishReason SAFETY.
/// </summary>
internal sealed partial class MockEngine
{
    /// <summary>When set, <c>/token</c> verifies service-account assertions with this public key (PEM).</summary>
    public string? GoogleServiceAccountPublicKeyPem { get; set; }

    /// <summary>Access tokens <c>/token</c> issued, accepted as Vertex bearer tokens.</summary>
    private readonly ConcurrentDictionary<string, byte> _googleTokens = new(StringComparer.Ordinal);

    private static readonly string[] GeminiMethods = [":generateContent", ":streamGenerateContent", ":embedContent", ":batchEmbedContents", ":predict"];

    private static bool GeminiRoute(IMockExchange exchange, string path) =>
        exchange.Method == "POST" && (path == "/token" || path.Contains("/models/", StringComparison.Ordinal) && GeminiMethods.Any(m => path.EndsWith(m, StringComparison.Ordinal)));

    private async Task<bool> ServeGeminiAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        if (path == "/token")
        {
            await GoogleTokenAsync(exchange, cancellationToken);
            return true;
        }
        var vertex = path.Contains("/publishers/google/models/", StringComparison.Ordinal);
        var modelStart = path.LastIndexOf("/models/", StringComparison.Ordinal) + "/models/".Length;
        var colon = path.LastIndexOf(':');
        var model = Uri.UnescapeDataString(path[modelStart..colon]);
        var method = path[(colon + 1)..];

        if (requiredApiKey is not null && !GeminiAuthorized(exchange, vertex))
        {
            if (vertex) await GoogleErrorAsync(exchange, 401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "UNAUTHENTICATED", cancellationToken);
            else await GoogleErrorAsync(exchange, 400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", cancellationToken, "API_KEY_INVALID");
            return true;
        }

        JsonNode? parsed;
        try { parsed = JsonNode.Parse(exchange.RequestBody.Span); }
        catch (JsonException ex)
        {
            await GoogleErrorAsync(exchange, 400, $"Invalid JSON payload received. {ex.Message}", "INVALID_ARGUMENT", cancellationToken);
            return true;
        }
        if (parsed is not JsonObject body)
        {
            await GoogleErrorAsync(exchange, 400, "Invalid JSON payload received. Expected an object.", "INVALID_ARGUMENT", cancellationToken);
            return true;
        }

        var settings = defaults.WithHeaders(exchange);
        if (await BeginAsync(model, settings, f => GeminiFaultAsync(exchange, f, model, cancellationToken), cancellationToken) is not { } fault) return true;

        try
        {
            if (method is "generateContent" or "streamGenerateContent")
                await GeminiGenerateAsync(exchange, body, model, method == "streamGenerateContent", settings, fault, cancellationToken);
            else
                await GeminiEmbedAsync(exchange, body, method, fault, cancellationToken);
        }
        catch (Exception ex) when (Unreadable(ex))
        {
            // Google refuses a body it cannot read with INVALID_ARGUMENT; the emulator reads loosely, before it writes.
            await GoogleErrorAsync(exchange, 400, $"Invalid JSON payload received. {ex.Message}", "INVALID_ARGUMENT", cancellationToken);
        }
        return true;
    }

    private bool GeminiAuthorized(IMockExchange exchange, bool vertex)
    {
        var auth = exchange.RequestHeader("authorization");
        var bearer = auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : null;
        if (vertex) return bearer is not null && (bearer == requiredApiKey || _googleTokens.ContainsKey(bearer));
        if (exchange.RequestHeader("x-goog-api-key") == requiredApiKey) return true;
        var query = exchange.Query.TrimStart('?').Split('&');
        return query.Any(q => q == "key=" + Uri.EscapeDataString(requiredApiKey!));
    }

    /// <summary>Faults in Google's error shapes; a content-policy fault is a blocked prompt, as Gemini reports one.</summary>
    private async Task<bool> GeminiFaultAsync(IMockExchange exchange, MockFault fault, string model, CancellationToken cancellationToken)
    {
        switch (fault.Kind)
        {
            case MockFaultKind.Status:
                if (fault.RetryAfterSeconds is { } ra) exchange.SetHeader("retry-after", ra.ToString(CultureInfo.InvariantCulture));
                var (status, message) = fault.Status switch
                {
                    429 => ("RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details."),
                    503 => ("UNAVAILABLE", "The model is overloaded. Please try again later."),
                    400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
                    401 => ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
                    403 => ("PERMISSION_DENIED", "The caller does not have permission."),
                    404 => ("NOT_FOUND", $"models/{model} is not found for API version v1beta, or is not supported for generateContent."),
                    504 => ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
                    _ => ("INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
                };
                await GoogleErrorAsync(exchange, fault.Status, fault.Message ?? message, status, cancellationToken);
                return true;
            case MockFaultKind.ContextWindow:
                await GoogleErrorAsync(exchange, 400, fault.Message ?? "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).", "INVALID_ARGUMENT", cancellationToken);
                return true;
            case MockFaultKind.ContentPolicy:
                await WriteJsonAsync(exchange, 200, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartObject("promptFeedback");
                    w.WriteString("blockReason", "PROHIBITED_CONTENT");
                    w.WriteEndObject();
                    w.WriteStartObject("usageMetadata");
                    w.WriteNumber("promptTokenCount", 1);
                    w.WriteNumber("totalTokenCount", 1);
                    w.WriteEndObject();
                    w.WriteString("modelVersion", model);
                    w.WriteEndObject();
                }, cancellationToken);
                return true;
            case MockFaultKind.Malformed:
                exchange.SetStatus(200);
                exchange.SetHeader("content-type", "application/json");
                await exchange.WriteAsync("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":"u8.ToArray(), cancellationToken);
                await exchange.FlushAsync(cancellationToken);
                return true;
            case MockFaultKind.Reset or MockFaultKind.Timeout:
                return await ApplyPreResponseFaultAsync(exchange, fault, model, cancellationToken);
            default:
                return false;
        }
    }

    private static async Task GoogleErrorAsync(IMockExchange exchange, int code, string message, string status, CancellationToken cancellationToken, string? reason = null)
    {
        await WriteJsonAsync(exchange, code, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteNumber("code", code);
            w.WriteString("message", message);
            w.WriteString("status", status);
            if (reason is not null)
            {
                w.WriteStartArray("details");
                w.WriteStartObject();
                w.WriteString("@type", "type.googleapis.com/google.rpc.ErrorInfo");
                w.WriteString("reason", reason);
                w.WriteString("domain", "googleapis.com");
                w.WriteEndObject();
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }, cancellationToken);
    }

    /// <summary>One generated candidate: text pieces (maybe after a thought), or one function call.</summary>
    private sealed record GeminiAnswer(List<string> Thought, List<string> Pieces, (string Name, string Args)? Call, string FinishReason)
    {
        public int Tokens => Call is { } c ? MockText.Chunk(c.Args).Count : Pieces.Count;
    }

    private async Task GeminiGenerateAsync(IMockExchange exchange, JsonObject body, string model, bool stream, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        if (GeminiValidate(body) is { } invalid)
        {
            await GoogleErrorAsync(exchange, 400, invalid, "INVALID_ARGUMENT", cancellationToken);
            return;
        }
        var contents = (JsonArray)body["contents"]!;
        var seed = Hash(Encoding.UTF8.GetBytes(contents.ToJsonString()));
        var promptText = new StringBuilder();
        foreach (var text in Texts(contents)) promptText.Append(text).Append(' ');
        foreach (var text in Texts(body["systemInstruction"])) promptText.Append(text).Append(' ');
        var promptTokens = MockText.CountTokens(promptText.ToString());
        if (body["tools"] is { } tools) promptTokens += MockText.CountTokens(tools.ToJsonString());
        var config = body["generationConfig"] as JsonObject;
        var candidateCount = Math.Clamp(config?["candidateCount"]?.GetValue<int>() ?? 1, 1, 8);
        var answers = new List<GeminiAnswer>();
        for (var i = 0; i < candidateCount; i++) answers.Add(GeminiAnswerFor(body, contents, config, promptText.ToString(), seed + (ulong)i * 7919));
        var thoughts = answers.Sum(a => a.Thought.Count);
        var candidatesTokens = answers.Sum(a => a.Tokens);
        var responseId = NewId("")[..12];

        if (!stream)
        {
            if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteStartArray("candidates");
                for (var i = 0; i < answers.Count; i++)
                {
                    var a = answers[i];
                    WriteCandidate(w, i, string.Concat(a.Thought), string.Concat(a.Pieces), a.Call, a.FinishReason);
                }
                w.WriteEndArray();
                WriteGeminiUsage(w, promptTokens, candidatesTokens, thoughts);
                w.WriteString("modelVersion", model);
                w.WriteString("responseId", responseId);
                w.WriteEndObject();
            }
            await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
            return;
        }

        await StartStreamAsync(exchange, settings, cancellationToken);
        var tokenDelay = TokenDelay(settings);
        var json = new ArrayBufferWriter<byte>(512);
        var sent = 0;
        async ValueTask<bool> EmitAsync(Action<Utf8JsonWriter> write)
        {
            if (fault.Kind == MockFaultKind.Cut && sent >= fault.CutAfterChunks) { await CutAsync(exchange, sent, cancellationToken); return false; }
            json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(json))
            {
                w.WriteStartObject();
                write(w);
                w.WriteString("modelVersion", model);
                w.WriteString("responseId", responseId);
                w.WriteEndObject();
            }
            // Google frames its SSE events with CRLF line endings.
            var frame = new byte[json.WrittenCount + 10];
            "data: "u8.CopyTo(frame);
            json.WrittenSpan.CopyTo(frame.AsSpan(6));
            "\r\n\r\n"u8.CopyTo(frame.AsSpan(6 + json.WrittenCount));
            await exchange.WriteAsync(frame, cancellationToken);
            await exchange.FlushAsync(cancellationToken);
            sent++;
            return true;
        }

        for (var i = 0; i < answers.Count; i++)
        {
            var a = answers[i];
            var index = i;
            if (a.Thought.Count > 0 && !await EmitAsync(w => { WriteCandidates(w, index, string.Concat(a.Thought), null, null, null); WriteGeminiUsage(w, promptTokens, 0, 0); })) return;
            // Text goes out a few tokens per event, as Gemini batches its stream; the finish rides on the last one.
            var groups = a.Pieces.Chunk(3).Select(c => string.Concat(c)).ToList();
            if (a.Call is not null || groups.Count == 0) groups.Add("");
            for (var g = 0; g < groups.Count; g++)
            {
                if (g > 0 && tokenDelay > TimeSpan.Zero) await Task.Delay(tokenDelay * 3, _time, cancellationToken);
                var last = g == groups.Count - 1;
                var text = groups[g];
                var isLastCandidate = index == answers.Count - 1;
                if (!await EmitAsync(w =>
                {
                    WriteCandidates(w, index, null, text.Length > 0 ? text : null, last ? a.Call : null, last ? a.FinishReason : null);
                    if (last && isLastCandidate) WriteGeminiUsage(w, promptTokens, candidatesTokens, thoughts);
                    else WriteGeminiUsage(w, promptTokens, 0, 0);
                })) return;
            }
        }
        if (fault.Kind == MockFaultKind.Cut) await CutAsync(exchange, sent, cancellationToken);
    }

    private static void WriteCandidates(Utf8JsonWriter w, int index, string? thought, string? text, (string Name, string Args)? call, string? finish)
    {
        w.WriteStartArray("candidates");
        WriteCandidate(w, index, thought, text, call, finish);
        w.WriteEndArray();
    }

    private static void WriteCandidate(Utf8JsonWriter w, int index, string? thought, string? text, (string Name, string Args)? call, string? finish)
    {
        w.WriteStartObject();
        if (finish != "SAFETY")
        {
            w.WriteStartObject("content");
            w.WriteStartArray("parts");
            if (!string.IsNullOrEmpty(thought))
            {
                w.WriteStartObject();
                w.WriteString("text", thought);
                w.WriteBoolean("thought", true);
                w.WriteEndObject();
            }
            if (!string.IsNullOrEmpty(text))
            {
                w.WriteStartObject();
                w.WriteString("text", text);
                w.WriteEndObject();
            }
            if (call is { } c)
            {
                w.WriteStartObject();
                w.WriteStartObject("functionCall");
                w.WriteString("name", c.Name);
                w.WritePropertyName("args");
                w.WriteRawValue(c.Args);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("role", "model");
            w.WriteEndObject();
        }
        if (finish is not null) w.WriteString("finishReason", finish);
        w.WriteNumber("index", index);
        if (finish == "SAFETY")
        {
            w.WriteStartArray("safetyRatings");
            w.WriteStartObject();
            w.WriteString("category", "HARM_CATEGORY_DANGEROUS_CONTENT");
            w.WriteString("probability", "HIGH");
            w.WriteBoolean("blocked", true);
            w.WriteEndObject();
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteGeminiUsage(Utf8JsonWriter w, int prompt, int candidates, int thoughts)
    {
        w.WriteStartObject("usageMetadata");
        w.WriteNumber("promptTokenCount", prompt);
        if (candidates > 0) w.WriteNumber("candidatesTokenCount", candidates);
        if (thoughts > 0) w.WriteNumber("thoughtsTokenCount", thoughts);
        w.WriteNumber("totalTokenCount", prompt + candidates + thoughts);
        w.WriteEndObject();
    }

    private static GeminiAnswer GeminiAnswerFor(JsonObject body, JsonArray contents, JsonObject? config, string prompt, ulong seed)
    {
        var thinking = config?["thinkingConfig"] as JsonObject;
        var thought = thinking?["includeThoughts"]?.GetValue<bool>() == true ? MockText.Sentence(seed ^ 0x5bd1e995, 6) : [];
        if (prompt.Contains("unsafe-demo", StringComparison.Ordinal)) return new GeminiAnswer([], [], null, "SAFETY");

        var lastIsResponse = contents[^1]?["parts"] is JsonArray lastParts && lastParts.Any(p => p?["functionResponse"] is not null);
        var declarations = (body["tools"] as JsonArray)?.SelectMany(t => t?["functionDeclarations"] as JsonArray ?? []).OfType<JsonObject>().ToList() ?? [];
        var callingConfig = body["toolConfig"]?["functionCallingConfig"];
        var mode = callingConfig?["mode"]?.GetValue<string>() ?? "AUTO";
        if (declarations.Count > 0 && mode != "NONE" && !lastIsResponse)
        {
            var allowed = (callingConfig?["allowedFunctionNames"] as JsonArray)?.Select(n => n?.GetValue<string>()).ToHashSet();
            if (MockDirectives.TryToolCall(GeminiLastUserText(contents), out var directed, out var directedArgs) && (allowed is null || allowed.Contains(directed))
                && declarations.Any(d => d["name"]?.GetValue<string>() == directed))
                return new GeminiAnswer(thought, [], (directed, directedArgs), "STOP");
            var chosen = declarations.FirstOrDefault(d => allowed is null || allowed.Contains(d["name"]?.GetValue<string>())) ?? declarations[0];
            var parameters = chosen["parameters"] is JsonNode p ? JsonDocument.Parse(LowerTypes(p.DeepClone()).ToJsonString()).RootElement : (JsonElement?)null;
            var args = parameters is null ? "{}" : MockText.SampleFromSchema(parameters);
            return new GeminiAnswer(thought, [], (chosen["name"]?.GetValue<string>() ?? "tool", args), "STOP");
        }

        List<string> pieces;
        if (lastIsResponse)
            pieces = MockText.Tokenize(MockDirectives.ToolResultAnswer(((JsonArray)contents[^1]!["parts"]!)
                .Select(p => p?["functionResponse"]?["response"]).Where(r => r is not null).Select(GeminiResultText)));
        else if (config?["responseMimeType"]?.GetValue<string>() == "application/json")
        {
            var schema = config["responseSchema"] is JsonNode s ? JsonDocument.Parse(LowerTypes(s.DeepClone()).ToJsonString()).RootElement : (JsonElement?)null;
            pieces = MockText.Chunk(schema is null ? "{\"answer\":\"" + string.Concat(MockText.Sentence(seed, 6)) + "\"}" : MockText.SampleFromSchema(schema));
        }
        else pieces = MockText.Sentence(seed, 8 + (int)(seed % 17));
        if (config?["maxOutputTokens"] is JsonValue mv && mv.TryGetValue<int>(out var max) && max >= 0 && pieces.Count > max)
            return new GeminiAnswer(thought, pieces.GetRange(0, max), null, "MAX_TOKENS");
        return new GeminiAnswer(thought, pieces, null, "STOP");
    }

    /// <summary>The text parts of the last user turn (where a test writes its directives).</summary>
    private static string? GeminiLastUserText(JsonArray contents)
    {
        for (var i = contents.Count - 1; i >= 0; i--)
        {
            if (contents[i] is not JsonObject c || (c["role"]?.GetValue<string>() ?? "user") != "user" || c["parts"] is not JsonArray parts) continue;
            var texts = parts.Select(p => p?["text"]).OfType<JsonValue>().Select(t => t.GetValue<string>()).ToList();
            if (texts.Count > 0) return string.Join("\n", texts);
        }
        return null;
    }

    /// <summary>A functionResponse's result as text: its <c>content</c>, <c>result</c> or <c>output</c> string, else its JSON.</summary>
    private static string GeminiResultText(JsonNode? response)
    {
        foreach (var key in new[] { "content", "result", "output" })
            if (response?[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        return response?.ToJsonString() ?? "";
    }

    /// <summary>Gemini schemas spell types in capitals (OBJECT, STRING); the sampler reads JSON Schema's lower case.</summary>
    private static JsonNode LowerTypes(JsonNode node)
    {
        if (node is JsonObject o)
        {
            foreach (var key in o.Select(p => p.Key).ToList())
            {
                if (key == "type" && o[key] is JsonValue t && t.TryGetValue<string>(out var type)) o[key] = type.ToLowerInvariant();
                else if (o[key] is { } child) LowerTypes(child);
            }
        }
        else if (node is JsonArray a)
            foreach (var item in a) if (item is not null) LowerTypes(item);
        return node;
    }

    private static IEnumerable<string> Texts(JsonNode? node)
    {
        IEnumerable<JsonNode?> contents = node switch { JsonArray a => a, JsonObject o => new JsonNode?[] { o }, _ => Array.Empty<JsonNode?>() };
        foreach (var content in contents)
            if (content?["parts"] is JsonArray parts)
                foreach (var part in parts)
                    if (part?["text"] is JsonValue v && v.TryGetValue<string>(out var text)) yield return text;
    }

    /// <summary>The checks Gemini makes on a conversation's shape, with its error messages.</summary>
    private static string? GeminiValidate(JsonObject body)
    {
        if (body["contents"] is not JsonArray { Count: > 0 } contents) return "* GenerateContentRequest.contents: contents is not specified\n";
        string? previousRole = null;
        var pendingCalls = 0;
        for (var i = 0; i < contents.Count; i++)
        {
            var role = contents[i]?["role"]?.GetValue<string>() ?? "user";
            if (role is not ("user" or "model")) return $"Please use a valid role: user, model. (contents[{i}].role '{role}')";
            if (contents[i]?["parts"] is not JsonArray { Count: > 0 } parts) return $"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n";
            if (role == previousRole) return $"Please ensure that multiturn requests alternate between user and model. (contents[{i}])";
            var calls = parts.Count(p => p?["functionCall"] is not null);
            var responses = parts.Count(p => p?["functionResponse"] is not null);
            if (responses > 0 && pendingCalls == 0) return "Please ensure that function response turn comes immediately after a function call turn.";
            if (pendingCalls > 0 && responses != pendingCalls)
                return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
            pendingCalls = role == "model" ? calls : 0;
            previousRole = role;
        }
        return null;
    }

    private async Task GeminiEmbedAsync(IMockExchange exchange, JsonObject body, string method, MockFault fault, CancellationToken cancellationToken)
    {
        var texts = new List<(string Text, int? Dimensions)>();
        switch (method)
        {
            case "embedContent":
                texts.Add((string.Join(" ", Texts(body["content"])), body["outputDimensionality"]?.GetValue<int>()));
                break;
            case "batchEmbedContents":
                foreach (var r in body["requests"] as JsonArray ?? []) texts.Add((string.Join(" ", Texts(r?["content"])), r?["outputDimensionality"]?.GetValue<int>()));
                break;
            default:
                var dims = body["parameters"]?["outputDimensionality"]?.GetValue<int>();
                foreach (var instance in body["instances"] as JsonArray ?? []) texts.Add((instance?["content"]?.GetValue<string>() ?? "", dims));
                break;
        }
        if (texts.Count == 0)
        {
            await GoogleErrorAsync(exchange, 400, "* BatchEmbedContentsRequest.requests: requests is not specified\n", "INVALID_ARGUMENT", cancellationToken);
            return;
        }
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            void Values(string text, int? dimensions)
            {
                var vector = new float[Math.Clamp(dimensions ?? 768, 1, 3072)];
                FillVector(vector, Hash(Encoding.UTF8.GetBytes(text)));
                w.WriteStartArray("values");
                foreach (var v in vector) w.WriteNumberValue(v);
                w.WriteEndArray();
            }
            w.WriteStartObject();
            if (method == "embedContent")
            {
                w.WriteStartObject("embedding");
                Values(texts[0].Text, texts[0].Dimensions);
                w.WriteEndObject();
            }
            else if (method == "batchEmbedContents")
            {
                w.WriteStartArray("embeddings");
                foreach (var (text, d) in texts) { w.WriteStartObject(); Values(text, d); w.WriteEndObject(); }
                w.WriteEndArray();
            }
            else
            {
                w.WriteStartArray("predictions");
                foreach (var (text, d) in texts)
                {
                    w.WriteStartObject();
                    w.WriteStartObject("embeddings");
                    w.WriteStartObject("statistics");
                    w.WriteBoolean("truncated", false);
                    w.WriteNumber("token_count", MockText.CountTokens(text));
                    w.WriteEndObject();
                    Values(text, d);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartObject("metadata");
                w.WriteNumber("billableCharacterCount", texts.Sum(t => t.Text.Length));
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
    }

    /// <summary>
    /// Google's OAuth token endpoint for the jwt-bearer grant: checks the assertion's claims (and its RS256 signature
    /// when <see cref="GoogleServiceAccountPublicKeyPem"/> is set) and issues an hour-long access token.
    /// </summary>
    private async Task GoogleTokenAsync(IMockExchange exchange, CancellationToken cancellationToken)
    {
        var form = Encoding.UTF8.GetString(exchange.RequestBody.Span).Split('&')
            .Select(kv => kv.Split('=', 2)).Where(kv => kv.Length == 2)
            .ToDictionary(kv => Uri.UnescapeDataString(kv[0].Replace('+', ' ')), kv => Uri.UnescapeDataString(kv[1].Replace('+', ' ')));
        async Task Refuse(string error, string description) => await WriteJsonAsync(exchange, 400, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", error);
            w.WriteString("error_description", description);
            w.WriteEndObject();
        }, cancellationToken);

        if (!form.TryGetValue("grant_type", out var grant) || grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" || !form.TryGetValue("assertion", out var assertion))
        {
            await Refuse("unsupported_grant_type", "Invalid grant_type: " + grant);
            return;
        }
        var pieces = assertion.Split('.');
        if (pieces.Length != 3) { await Refuse("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"); return; }
        JsonNode? claims;
        try { claims = JsonNode.Parse(FromBase64Url(pieces[1])); }
        catch (Exception ex) when (ex is JsonException or FormatException) { await Refuse("invalid_grant", "Invalid JWT payload."); return; }
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var iat = claims?["iat"]?.GetValue<long>() ?? 0;
        var exp = claims?["exp"]?.GetValue<long>() ?? 0;
        if (claims?["iss"] is null || claims["scope"] is null || claims["aud"] is null || exp <= now || exp - iat > 3600 || iat > now + 300)
        {
            await Refuse("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
            return;
        }
        if (GoogleServiceAccountPublicKeyPem is { } pem)
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            var valid = rsa.VerifyData(Encoding.ASCII.GetBytes(pieces[0] + "." + pieces[1]), FromBase64Url(pieces[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            if (!valid) { await Refuse("invalid_grant", "Invalid JWT Signature."); return; }
        }
        var token = "ya29.mock-" + Hash(Encoding.ASCII.GetBytes(assertion)).ToString("x16", CultureInfo.InvariantCulture);
        _googleTokens[token] = 0;
        await WriteJsonAsync(exchange, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("access_token", token);
            w.WriteNumber("expires_in", 3599);
            w.WriteString("token_type", "Bearer");
            w.WriteEndObject();
        }, cancellationToken);
    }

    private static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }
}
