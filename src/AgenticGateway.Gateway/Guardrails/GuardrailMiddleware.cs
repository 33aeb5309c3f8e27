using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;

namespace AgenticGateway.Guardrails;

/// <summary>
/// <c>guardrails</c>: the configured guardrails on an LLM call (LiteLLM's modes). pre_call checks the request's texts
/// before anything else sees them (a mask rewrites the body the service sends; a block refuses in the route's error
/// shape); during_call checks them while the call runs, and the answer waits for it; post_call checks the answer
/// before the client gets it (a JSON answer whole, a stream as it passes: see <see cref="GuardrailAnswerFilter"/>);
/// logging_only only records. It sits outside the cache, so a cached answer is one the output guardrails already saw.
/// Applies only when guardrails are configured.
/// </summary>
internal sealed class GuardrailMiddleware(GuardrailRunner runner, ILogger<GuardrailMiddleware> logger) : IRouterMiddleware
{
    public const string Type = "guardrails";

    // Also where a key or team sets token caps (see TokenCaps), with or without guardrails configured.
    public bool AppliesTo(HttpContext context) =>
        context.Route().Payload.Operation() is not null && context.Features.Get<LlmRequest>() is not null
        && (!runner.Options.IsEmpty || TokenCaps.Of(context.Features.Get<Caller>() ?? Caller.Anonymous) is not null);

    public async ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next)
    {
        var llm = context.Features.Get<LlmRequest>()!;
        var caller = context.Features.Get<Caller>() ?? Caller.Anonymous;
        if (TokenCaps.Of(caller) is { } caps)
        {
            if (caps.Check(llm, out var addLimit) is { } over) return over;
            ApiError? capParseError = null;
            var parsedCapped = addLimit ? ParseBody(llm.Body.Span, out capParseError) : null;
            if (capParseError is not null) return capParseError;
            if (parsedCapped is JsonObject capped)
            {
                capped[TokenCaps.OutputParameter(llm.Operation)] = caps.MaxOutput!.Value;
                if (Rewrite(context, llm, capped) is { } cappedError) return cappedError;
                llm = context.Features.Get<LlmRequest>()!;
            }
        }
        if (runner.Options.IsEmpty) return await next.InvokeAsync(context);
        var requestId = context.RequestId();
        GuardrailSelection? requested;
        bool named;
        ApiError? selectionError;
        try { (requested, named, selectionError) = RequestedGuardrails.Read(llm.Body.Span, runner.Current.ByName); }
        catch (JsonException) { return Unreadable(); }
        if (selectionError is not null) return selectionError;
        // Turning a guardrail off needs a grant (see GuardrailScope.MayDisable); turning more on is always allowed.
        if (requested is { Off.Count: > 0 } && !GuardrailScope.Of(caller).MayDisable)
            return new ApiError(403, "Your team does not have permission to modify guardrails: turning a guardrail off needs modify_guardrails: true in the key's or its team's metadata.guardrails.",
                "auth_error", "guardrails_not_modifiable", "guardrails");

        var decisions = new GuardrailDecisions();
        context.Features.Set<IGuardrailInformation>(decisions);
        var operation = llm.Operation;
        var model = llm.Parsed.Model;
        var pre = runner.AnyFor(GuardrailMode.PreCall, caller, requested);
        var during = runner.AnyFor(GuardrailMode.DuringCall, caller, requested);
        var logging = runner.AnyFor(GuardrailMode.LoggingOnly, caller, requested);
        var hasOutput = operation is not (LlmOperation.Embeddings or LlmOperation.Rerank);
        var post = hasOutput && runner.AnyFor(GuardrailMode.PostCall, caller, requested);

        JsonObject? body = null;
        List<TextSlot>? slots = null;
        var rewrite = named;
        if (pre || during || logging || named)
        {
            body = ParseBody(llm.Body.Span, out var parseError) as JsonObject;
            if (parseError is not null) return parseError;
            if (body is null) return null;
            // LiteLLM's own parameter is not the provider's: it is taken out before the request goes on.
            if (named) body.Remove("guardrails");
            // A text that cannot be read (a lone surrogate escape such as "\ud800") would pass unchecked: refused.
            try { slots = MessageTexts.OfRequest(body, operation); }
            catch (InvalidOperationException) { return ApiError.BadRequest("The request holds a text that is not valid Unicode (a lone surrogate escape), so the guardrails cannot check it.", null, "invalid_text"); }
        }
        IReadOnlyList<string> texts = slots?.ConvertAll(s => s.Text) ?? [];
        if (pre && texts.Count > 0)
        {
            var result = await runner.RunAsync(GuardrailMode.PreCall, texts, caller, model, requestId, requested, context.RequestAborted);
            decisions.Add(result.Decisions);
            if (result.Blocked) return Violation(result, "request", requestId);
            for (var i = 0; i < texts.Count; i++)
            {
                if (ReferenceEquals(result.Texts[i], texts[i]) || result.Texts[i] == texts[i]) continue;
                slots![i].Set(result.Texts[i]);
                rewrite = true;
            }
            texts = result.Texts;
        }
        if (rewrite && body is not null && Rewrite(context, llm, body) is { } unreadable) return unreadable;
        if (logging && texts.Count > 0)
            decisions.Add((await runner.RunAsync(GuardrailMode.LoggingOnly, texts, caller, model, requestId, requested, context.RequestAborted)).Decisions);
        var duringCheck = during && texts.Count > 0
            ? runner.RunAsync(GuardrailMode.DuringCall, texts, caller, model, requestId, requested, context.RequestAborted).AsTask() : null;
        JsonElement? schema;
        try { schema = operation == LlmOperation.ChatCompletions && runner.Options.JsonSchemaValidation && !llm.Parsed.Stream ? ResponseSchema(llm.Body.Span) : null; }
        catch (JsonException) { return Unreadable(); }
        var filter = post || duringCheck is not null || (logging && hasOutput) || schema is not null
            ? new GuardrailAnswerFilter(runner, operation, caller, model, requestId, requested, decisions, duringCheck, schema, logger)
            : null;
        if (filter is not null) context.Features.Set<IAnswerFilter>(filter);
        // The cache (after this middleware) keys answers on the output guardrails in effect: a masked answer is never
        // served to a request under other output guardrails.
        if (post) context.Features.Set(new OutputGuardrails(runner.Selected(GuardrailMode.PostCall, caller, requested).Select(g => g.Definition.Name).ToArray()));
        SetAppliedHeader(context, decisions, runner, caller, requested);
        try
        {
            return await next.InvokeAsync(context);
        }
        finally
        {
            // A call that failed before its answer: the during_call decision is still the request's.
            if (filter is not null) await filter.SettleAsync();
        }
    }

    /// <summary>The request's response_format.json_schema.schema, when it asks for one (checked on the answer).</summary>
    private static JsonElement? ResponseSchema(ReadOnlySpan<byte> body)
    {
        if (body.IndexOf("\"json_schema\""u8) < 0) return null;
        using var doc = JsonDocument.Parse(body.ToArray(), Json.JsonText.NodeOptions);
        return doc.RootElement.TryGetProperty("response_format", out var format) && format.ValueKind == JsonValueKind.Object
            && format.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "json_schema"
            && format.TryGetProperty("json_schema", out var js) && js.ValueKind == JsonValueKind.Object && js.TryGetProperty("schema", out var schema)
            ? schema.Clone() : null;
    }

    /// <summary>LiteLLM's x-litellm-applied-guardrails: the guardrails in effect for the request, by name.</summary>
    private static void SetAppliedHeader(HttpContext context, GuardrailDecisions decisions, GuardrailRunner runner, Caller caller, GuardrailSelection? requested)
    {
        var names = new List<string>();
        foreach (var mode in (ReadOnlySpan<GuardrailMode>)[GuardrailMode.PreCall, GuardrailMode.DuringCall, GuardrailMode.PostCall, GuardrailMode.LoggingOnly])
            foreach (var g in runner.Selected(mode, caller, requested))
                if (!names.Contains(g.Definition.Name)) names.Add(g.Definition.Name);
        if (names.Count > 0) context.Response.Headers["x-litellm-applied-guardrails"] = string.Join(",", names);
    }

    /// <summary>
    /// The body, read with the request reader's limits (depth 128, as <see cref="Json.JsonText.NodeOptions"/>): the
    /// default depth of 64 would throw on bodies the reader accepted.
    /// </summary>
    private static JsonNode? ParseBody(ReadOnlySpan<byte> body, out ApiError? error)
    {
        error = null;
        try { return JsonNode.Parse(body, documentOptions: Json.JsonText.NodeOptions); }
        catch (JsonException) { error = Unreadable(); return null; }
    }

    private static ApiError Unreadable() =>
        ApiError.BadRequest("The request body is not JSON the guardrails can read (too deeply nested or malformed).", null, "invalid_json");

    /// <summary>The rewritten body becomes the request the service sends (parsed again: the service reads both).</summary>
    private static ApiError? Rewrite(HttpContext context, LlmRequest llm, JsonObject body)
    {
        var buffer = new ArrayBufferWriter<byte>(llm.Body.Length + 64);
        using (var w = new Utf8JsonWriter(buffer, SseTexts.WriterOptions)) body.WriteTo(w);
        var rewritten = RequestBody.Of(buffer.WrittenSpan);
        context.Response.RegisterForDispose(rewritten);
        if (RequestReader.TryParse(rewritten.Span, llm.Operation, out var parsed) is { } error) return error;
        context.Features.Set(new LlmRequest(llm.Runtime, llm.Operation, rewritten, parsed, llm.Group, llm.PromptEstimate, llm.Reservation));
        return null;
    }

    /// <summary>The error a block answers with, in the route's shape (OpenAI's or Anthropic's); it names what was found, never quotes it.</summary>
    internal ApiError Violation(GuardrailResult result, string what, string requestId)
    {
        GuardrailLog.Blocked(logger, result.BlockedBy ?? "", what, result.Reason ?? "", requestId);
        return Violation(result.BlockedBy, result.Reason, what);
    }

    internal static ApiError Violation(string? guardrail, string? reason, string what) =>
        new(400, $"Violated guardrail policy: the guardrail '{guardrail}' refused the {what}" + (reason is null ? "." : $" ({reason})."),
            "invalid_request_error", "guardrail_violation");
}

/// <summary>
/// A request's own choice of guardrails (LiteLLM: <c>"guardrails": ["name", ...]</c> or <c>{"name": {...}}</c> in the
/// body, and the older <c>"metadata": {"guardrails": {"name": true|false}}</c>). A name with <c>false</c> turns a
/// guardrail off, where the caller's team allows it. Unknown names are refused, so a typo is not a silent no-op.
/// </summary>
internal static class RequestedGuardrails
{
    public static (GuardrailSelection? Selection, bool Named, ApiError? Error) Read(ReadOnlySpan<byte> body, IReadOnlyDictionary<string, IGuardrail> known)
    {
        if (body.IndexOf("\"guardrails\""u8) < 0) return (null, false, null);
        using var doc = JsonDocument.Parse(body.ToArray(), Json.JsonText.NodeOptions);
        var root = doc.RootElement;
        var on = new List<string>();
        var off = new List<string>();
        var named = root.TryGetProperty("guardrails", out var top);
        if (named && Collect(top, "guardrails", on, off) is { } topError) return (null, false, topError);
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty("guardrails", out var inMetadata)
            && Collect(inMetadata, "metadata.guardrails", on, off) is { } metadataError) return (null, false, metadataError);
        foreach (var name in on.Concat(off))
        {
            if (!known.ContainsKey(name))
                return (null, false, ApiError.BadRequest($"Unknown guardrail '{name}'. Configured guardrails: {string.Join(", ", known.Keys.Order(StringComparer.Ordinal))}.", "guardrails", "guardrail_not_found"));
        }
        return (on.Count + off.Count == 0 ? null : new GuardrailSelection(on, off), named, null);
    }

    private static ApiError? Collect(JsonElement value, string param, List<string> on, List<string> off)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String) on.Add(item.GetString()!);
                    // LiteLLM's list of {name: params} maps.
                    else if (item.ValueKind == JsonValueKind.Object) foreach (var p in item.EnumerateObject()) on.Add(p.Name);
                    else return Bad(param);
                }
                return null;
            case JsonValueKind.Object:
                foreach (var p in value.EnumerateObject())
                {
                    if (p.Value.ValueKind == JsonValueKind.False) off.Add(p.Name);
                    else if (p.Value.ValueKind is JsonValueKind.True or JsonValueKind.Object) on.Add(p.Name);
                    else return Bad(param);
                }
                return null;
            default:
                return Bad(param);
        }
    }

    private static ApiError Bad(string param) =>
        ApiError.BadRequest($"Invalid '{param}': expected a list of guardrail names, or an object mapping names to true, false or their parameters.", param, "invalid_guardrails");
}
