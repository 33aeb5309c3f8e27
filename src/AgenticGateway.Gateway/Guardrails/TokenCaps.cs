using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;

namespace AgenticGateway.Guardrails;

/// <summary>
/// Size caps per key and team, ours (LiteLLM documents none per key): <c>max_input_tokens</c> and
/// <c>max_output_tokens</c> in a key's or its team's metadata (the smaller of the two wins). A request whose prompt is
/// estimated above the input cap is refused with 413; one that asks for more output than the cap is refused with 400,
/// and one that names no limit gets the cap as its limit, so no answer runs past it.
/// </summary>
internal sealed record TokenCaps(long? MaxInput, long? MaxOutput)
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, TokenCaps> Parsed = new();
    private static readonly TokenCaps None = new(null, null);

    /// <summary>The caps on this caller, or null when neither its key nor its team sets one.</summary>
    public static TokenCaps? Of(Caller caller)
    {
        if (caller.Identity is not { } id) return null;
        var key = Read(id.Key.Metadata);
        var team = id.Team is null ? None : Read(id.Team.Metadata);
        // The usual caller sets no cap: answered without allocating (this runs on every LLM request of a virtual key).
        if (ReferenceEquals(key, None) && ReferenceEquals(team, None)) return null;
        var caps = new TokenCaps(Min(key.MaxInput, team.MaxInput), Min(key.MaxOutput, team.MaxOutput));
        return caps.MaxInput is null && caps.MaxOutput is null ? null : caps;
    }

    private static long? Min(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static TokenCaps Read(string metadata) =>
        metadata.Length <= 2 || !metadata.Contains("max_", StringComparison.Ordinal) ? None : Parsed.GetValue(metadata, Parse);

    private static TokenCaps Parse(string metadata)
    {
        try
        {
            using var doc = JsonDocument.Parse(metadata);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return None;
            return new TokenCaps(Positive(doc.RootElement, "max_input_tokens"), Positive(doc.RootElement, "max_output_tokens"));
        }
        catch (JsonException)
        {
            return None;
        }
    }

    // A cap that is not a positive integer is no cap: metadata is free-form and stored as given.
    private static long? Positive(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n > 0 ? n : null;

    /// <summary>The error for a request over a cap, or null; <paramref name="addLimit"/> is set when the body must get the output cap.</summary>
    public ApiError? Check(LlmRequest llm, out bool addLimit)
    {
        addLimit = false;
        if (MaxInput is { } maxInput && llm.Operation is not LlmOperation.Rerank)
        {
            var estimate = llm.PromptEstimate > 0 ? llm.PromptEstimate : Pricing.TokenEstimator.EstimatePromptTokens(llm.Body.Span);
            if (estimate > maxInput)
                return new ApiError(413, $"The request's input is about {estimate} tokens; this key's limit (max_input_tokens) is {maxInput}.",
                    "invalid_request_error", "input_tokens_exceeded", "messages");
        }
        if (MaxOutput is { } maxOutput && llm.Operation is not (LlmOperation.Embeddings or LlmOperation.Rerank))
        {
            if (llm.Parsed.MaxTokens is { } asked)
            {
                if (asked > maxOutput)
                    return ApiError.BadRequest($"The request asks for {asked} output tokens; this key's limit (max_output_tokens) is {maxOutput}.",
                        OutputParameter(llm.Operation), "output_tokens_exceeded");
            }
            else addLimit = true;
        }
        return null;
    }

    /// <summary>The body's output-limit parameter in the client's API.</summary>
    public static string OutputParameter(LlmOperation operation) => operation == LlmOperation.Responses ? "max_output_tokens" : "max_tokens";
}
