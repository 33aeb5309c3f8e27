using AgenticGateway.OpenAi;

namespace AgenticGateway.Pricing;

/// <summary>
/// What a model costs, in US dollars: per prompt and completion token (with optional rates for cached prompt tokens
/// and reasoning tokens) plus a flat amount per request. Field names follow LiteLLM's model cost map.
/// </summary>
internal sealed record ModelPrice
{
    private const decimal PerMillion = 1_000_000m;

    /// <summary>Dollars per prompt token not served from cache (<c>input_cost_per_token</c>).</summary>
    public decimal InputPerToken { get; init; }

    /// <summary>Dollars per completion token (<c>output_cost_per_token</c>).</summary>
    public decimal OutputPerToken { get; init; }

    /// <summary>Dollars per cached prompt token (<c>cache_read_input_token_cost</c>); null means <see cref="InputPerToken"/>.</summary>
    public decimal? CachedInputPerToken { get; init; }

    /// <summary>Dollars per reasoning token (<c>output_cost_per_reasoning_token</c>); null means <see cref="OutputPerToken"/>.</summary>
    public decimal? ReasoningPerToken { get; init; }

    /// <summary>Flat dollars per request (<c>input_cost_per_request</c>).</summary>
    public decimal PerRequest { get; init; }

    /// <summary>Dollars per rerank search unit (<c>input_cost_per_query</c>), as LiteLLM prices Cohere's rerank.</summary>
    public decimal PerQuery { get; init; }

    /// <summary>
    /// The cost of a finished request: cached prompt tokens at the cached rate, the rest of the prompt at the input
    /// rate, reasoning tokens at the reasoning rate, the rest of the completion at the output rate, rerank search units
    /// at the per-query rate, plus the per-request amount. Counts a provider reports inconsistently (cached above prompt, negatives) are clamped.
    /// </summary>
    public decimal Cost(in Usage usage)
    {
        var prompt = Math.Max(usage.PromptTokens, 0);
        var cached = Math.Clamp(usage.CachedPromptTokens, 0, prompt);
        var completion = Math.Max(usage.CompletionTokens, 0);
        var reasoning = Math.Clamp(usage.ReasoningTokens, 0, completion);
        return (prompt - cached) * InputPerToken
            + cached * (CachedInputPerToken ?? InputPerToken)
            + (completion - reasoning) * OutputPerToken
            + reasoning * (ReasoningPerToken ?? OutputPerToken)
            + Math.Max(usage.SearchUnits, 0) * PerQuery
            + PerRequest;
    }

    /// <summary>
    /// An upper bound for a request before it runs, to reserve against a budget: every prompt token at the higher of
    /// the input and cached rates, <paramref name="maxOutputTokens"/> at the higher of the output and reasoning rates,
    /// plus the search units a rerank may be billed at the per-query rate, plus the per-request amount.
    /// </summary>
    public decimal Estimate(long promptTokens, long maxOutputTokens, long searchUnits = 0) =>
        Math.Max(promptTokens, 0) * Math.Max(InputPerToken, CachedInputPerToken ?? 0)
        + Math.Max(maxOutputTokens, 0) * Math.Max(OutputPerToken, ReasoningPerToken ?? 0)
        + Math.Max(searchUnits, 0) * PerQuery
        + PerRequest;

    /// <summary>A price from dollars per million tokens, the unit providers publish.</summary>
    public static ModelPrice FromPerMillion(decimal input, decimal output, decimal? cachedInput = null, decimal? reasoning = null) => new()
    {
        InputPerToken = input / PerMillion,
        OutputPerToken = output / PerMillion,
        CachedInputPerToken = cachedInput / PerMillion,
        ReasoningPerToken = reasoning / PerMillion,
    };
}
