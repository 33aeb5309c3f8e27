using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.OpenAiText;

/// <summary>
/// LiteLLM's <c>text-completion-openai</c>: a model behind OpenAI's legacy <c>/v1/completions</c> API
/// (gpt-3.5-turbo-instruct, davinci-002, a vLLM completions server). <c>/v1/completions</c> requests pass through
/// untouched (see <see cref="Routing.Deployment.TranslatorFor"/>); chat requests are turned into a prompt as LiteLLM
/// does (its OpenAITextCompletionConfig): one message's text is the prompt, several messages are sent as a list of
/// prompts (one completion, so one choice, per message). Each completion choice comes back as an assistant message.
/// </summary>
internal sealed class TextCompletionTranslator : IProviderTranslator
{
    // Chat fields the completions API has no equivalent for: refused by name rather than silently dropped.
    private static readonly string[] Refused = ["tools", "tool_choice", "functions", "function_call", "response_format", "audio", "modalities", "prediction", "top_logprobs", "web_search_options"];
    // Chat-only fields that change nothing here (parallel_tool_calls without tools, store, metadata).
    private static readonly string[] Dropped = ["messages", "model", "max_completion_tokens", "stream_options", "parallel_tool_calls", "store", "metadata", "logprobs", "reasoning_effort", "service_tier"];

    public ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (JsonBody(openAiBody) is not { } body) return ValueTask.FromResult(TranslatedRequest.Fail(ApiError.BadRequest("The request body must be a JSON object.")));
        foreach (var name in Refused)
        {
            if (body[name] is null) continue;
            return ValueTask.FromResult(TranslatedRequest.Fail(ApiError.BadRequest(
                $"'{name}' is not supported by a legacy completions model ({call.UpstreamModel} is served through /v1/completions).", name)));
        }
        if (body["logprobs"] is JsonValue lp && lp.GetValueKind() == JsonValueKind.True)
            return ValueTask.FromResult(TranslatedRequest.Fail(ApiError.BadRequest($"'logprobs' is not supported by a legacy completions model ({call.UpstreamModel}).", "logprobs")));
        if (Prompt(body["messages"] as JsonArray, out var error) is not { } prompt) return ValueTask.FromResult(TranslatedRequest.Fail(error!));

        var buffer = new ArrayBufferWriter<byte>(openAiBody.Length + 64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", call.UpstreamModel);
            w.WritePropertyName("prompt");
            prompt.WriteTo(w);
            foreach (var (name, value) in body)
            {
                if (Array.IndexOf(Dropped, name) >= 0) continue;
                w.WritePropertyName(name);
                if (value is null) w.WriteNullValue(); else value.WriteTo(w);
            }
            if (body["max_tokens"] is null && body["max_completion_tokens"] is { } max)
            {
                w.WritePropertyName("max_tokens");
                max.WriteTo(w);
            }
            // Usage is asked for in every stream (the completions API takes stream_options too), so tokens and cost
            // are known; the usage chunk reaches the client only when it asked for it.
            if (call.Stream)
            {
                w.WriteStartObject("stream_options");
                w.WriteBoolean("include_usage", true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var request = new HttpRequestMessage(HttpMethod.Post, call.Deployment.ApiBase.ToString().TrimEnd('/') + "/completions")
        {
            Content = new ByteArrayContent(buffer.WrittenSpan.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        return ValueTask.FromResult(new TranslatedRequest(request, null));
    }

    /// <summary>LiteLLM's _transform_prompt: one message gives a string prompt, several a list of prompts.</summary>
    private static JsonNode? Prompt(JsonArray? messages, out ApiError? error)
    {
        error = null;
        if (messages is null || messages.Count == 0)
        {
            error = ApiError.BadRequest("Missing required parameter: 'messages'.", "messages");
            return null;
        }
        var texts = new List<string>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            if (Text(messages[i]?["content"], i, out error) is not { } text) return null;
            texts.Add(text);
        }
        if (texts.Count == 1) return JsonValue.Create(texts[0]);
        var list = new JsonArray();
        foreach (var t in texts) list.Add(JsonValue.Create(t));
        return list;
    }

    /// <summary>A message's text: a string, or its text parts joined (LiteLLM's convert_content_list_to_str).</summary>
    private static string? Text(JsonNode? content, int index, out ApiError? error)
    {
        error = null;
        switch (content)
        {
            case null:
                return "";
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return v.GetValue<string>();
            case JsonArray parts:
                var text = new StringBuilder();
                foreach (var part in parts)
                {
                    var type = part?["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
                    if (type != "text" || part!["text"] is not JsonValue pt || pt.GetValueKind() != JsonValueKind.String)
                    {
                        error = ApiError.BadRequest($"A legacy completions model takes text only; messages[{index}] has a '{type ?? "unknown"}' part.", $"messages[{index}].content");
                        return null;
                    }
                    text.Append(pt.GetValue<string>());
                }
                return text.ToString();
            default:
                error = ApiError.BadRequest($"Invalid type for 'messages[{index}].content': expected a string or an array.", $"messages[{index}].content");
                return null;
        }
    }

    public byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage)
    {
        using var doc = ProviderJson.Parse(providerBody, "The completions API returned a body that is not JSON");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("The completions answer has no choices.");
        UsageReader.TryRead(providerBody.Span, out usage);
        var buffer = new ArrayBufferWriter<byte>(providerBody.Length + 256);
        using (var w = new Utf8JsonWriter(buffer, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", ProviderJson.Str(root, "id") ?? "chatcmpl-" + call.RequestId);
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteString("model", ProviderJson.Str(root, "model") ?? call.UpstreamModel);
            w.WriteStartArray("choices");
            var index = 0;
            foreach (var choice in choices.EnumerateArray())
            {
                w.WriteStartObject();
                w.WriteNumber("index", index++);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                w.WriteString("content", ProviderJson.Str(choice, "text") ?? throw new InvalidDataException("A completions choice has no text."));
                w.WriteEndObject();
                w.WriteNull("logprobs");
                if (ProviderJson.Str(choice, "finish_reason") is { } finish) w.WriteString("finish_reason", finish); else w.WriteNull("finish_reason");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            {
                w.WritePropertyName("usage");
                u.WriteTo(w);
            }
            if (ProviderJson.Str(root, "system_fingerprint") is { } fp) w.WriteString("system_fingerprint", fp);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public IStreamTranslator CreateChatStream(ProviderCall call) => new TextCompletionStreamTranslator(call);

    public ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken) =>
        ValueTask.FromResult(TranslatedRequest.Fail(ApiError.BadRequest(
            $"A text-completion-openai deployment serves completions only; configure the embeddings model ({call.UpstreamModel}) with provider 'openai'.", "model")));

    public byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        throw new InvalidOperationException("A text-completion-openai deployment builds no embeddings request.");

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => OpenAiErrors.Read(status, body);

    private static JsonObject? JsonBody(ReadOnlyMemory<byte> body)
    {
        try { return JsonNode.Parse(body.Span) as JsonObject; }
        catch (JsonException) { return null; }
    }
}
