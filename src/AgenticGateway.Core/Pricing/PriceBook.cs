using System.Collections.Frozen;

namespace AgenticGateway.Pricing;

/// <summary>
/// Built-in prices of models, so costs are known without configuration: a deployment's configured price
/// (input_cost_per_token and friends) always wins; then an operator's copy of LiteLLM's model cost map
/// (AGW_MODEL_COST_MAP, see <see cref="ModelCostMap"/>); then the curated table below (figures checked against the
/// providers' pages, and models LiteLLM has dropped); then the copy of LiteLLM's map that ships with the gateway.
/// </summary>
internal static class PriceBook
{
    // Dollars per million tokens: input, output, cached input, reasoning (null: the input or output rate); then the
    // model's maximum output tokens per answer (0 for embeddings), which a request without max_tokens reserves: LiteLLM's
    // max_output_tokens at commit 00035b69f416 of its map; models it no longer lists (o1-mini, claude-3-5-*,
    // gemini-1.5-*) keep the figure of the providers' documentation (also LiteLLM's Bedrock/Heroku entries for 3.5).
    // Standard (not batch or priority) tier; for models priced by prompt length, the lowest tier (<= 128k / 200k tokens).
    // Anthropic cache writes are not priced separately: they count as ordinary prompt tokens.
    //
    // Source: LiteLLM's model_prices_and_context_window.json (github.com/BerriAI/litellm), the version whose
    // last_updated is 2026-07-24; models LiteLLM has since dropped as retired (o1-mini, claude-3-5-*, gemini-1.5-*)
    // from its version of 2026-03-06. Where entries disagree:
    // - Claude Haiku 3.5: $0.80/$4 from Anthropic's pricing page (platform.claude.com/docs/en/about-claude/pricing),
    //   which also confirms the 3.7 Sonnet, Sonnet 4, Opus 4 and Haiku 3 rows; LiteLLM's claude-3-5-haiku-latest entry says $1/$5.
    // - Gemini 1.5 Pro: LiteLLM's vertex_ai entry ($1.25/$5); its gemini/ entry still has the older $3.50/$10.50.
    // OpenAI rows match the figures quoted from platform.openai.com/docs/pricing (2026). DeepSeek has changed its
    // prices several times; these are LiteLLM's of 2026-07-24. Collected 2026-11-22.
    private static readonly (string Model, ModelPrice Price, int MaxOutputTokens)[] Table =
    [
        // OpenAI
        ("gpt-4o", ModelPrice.FromPerMillion(2.50m, 10.00m, 1.25m), 16384),
        ("gpt-4o-2024-05-13", ModelPrice.FromPerMillion(5.00m, 15.00m), 4096), // the first snapshot kept its launch price
        ("gpt-4o-mini", ModelPrice.FromPerMillion(0.15m, 0.60m, 0.075m), 16384),
        ("gpt-4.1", ModelPrice.FromPerMillion(2.00m, 8.00m, 0.50m), 32768),
        ("gpt-4.1-mini", ModelPrice.FromPerMillion(0.40m, 1.60m, 0.10m), 32768),
        ("gpt-4.1-nano", ModelPrice.FromPerMillion(0.10m, 0.40m, 0.025m), 32768),
        ("o1", ModelPrice.FromPerMillion(15.00m, 60.00m, 7.50m), 100000),
        ("o1-mini", ModelPrice.FromPerMillion(1.10m, 4.40m, 0.55m), 65536),
        ("o3", ModelPrice.FromPerMillion(2.00m, 8.00m, 0.50m), 100000),
        ("o3-mini", ModelPrice.FromPerMillion(1.10m, 4.40m, 0.55m), 100000),
        ("o4-mini", ModelPrice.FromPerMillion(1.10m, 4.40m, 0.275m), 100000),
        ("gpt-3.5-turbo", ModelPrice.FromPerMillion(0.50m, 1.50m), 4096),
        ("gpt-3.5-turbo-instruct", ModelPrice.FromPerMillion(1.50m, 2.00m), 4096),
        ("text-embedding-3-small", ModelPrice.FromPerMillion(0.02m, 0m), 0),
        ("text-embedding-3-large", ModelPrice.FromPerMillion(0.13m, 0m), 0),
        ("text-embedding-ada-002", ModelPrice.FromPerMillion(0.10m, 0m), 0),

        // Anthropic (model ids without their date; "claude-4-*" are LiteLLM's alternative names)
        ("claude-3-5-sonnet", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 8192),
        ("claude-3-5-haiku", ModelPrice.FromPerMillion(0.80m, 4.00m, 0.08m), 8192),
        ("claude-3-7-sonnet", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 64000),
        ("claude-sonnet-4", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 64000),
        ("claude-sonnet-4-0", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 64000),
        ("claude-4-sonnet", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 64000),
        ("claude-opus-4", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m), 32000),
        ("claude-opus-4-0", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m), 32000),
        ("claude-4-opus", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m), 32000),
        ("claude-3-haiku", ModelPrice.FromPerMillion(0.25m, 1.25m, 0.03m), 4096),
        // Newer Claude models: LiteLLM's map at commit 00035b69f416 (read 2026-12-06).
        ("claude-haiku-4-5", ModelPrice.FromPerMillion(1.00m, 5.00m, 0.10m), 64000),
        ("claude-sonnet-4-5", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 64000),
        ("claude-sonnet-4-6", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m), 64000),
        ("claude-sonnet-5", ModelPrice.FromPerMillion(2.00m, 10.00m, 0.20m), 128000),
        ("claude-opus-4-1", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m), 32000),
        ("claude-opus-4-5", ModelPrice.FromPerMillion(5.00m, 25.00m, 0.50m), 64000),
        ("claude-opus-4-6", ModelPrice.FromPerMillion(5.00m, 25.00m, 0.50m), 128000),
        ("claude-opus-4-7", ModelPrice.FromPerMillion(5.00m, 25.00m, 0.50m), 128000),
        ("claude-opus-4-8", ModelPrice.FromPerMillion(5.00m, 25.00m, 0.50m), 128000),

        // Google Gemini
        ("gemini-1.5-pro", ModelPrice.FromPerMillion(1.25m, 5.00m), 8192),
        ("gemini-1.5-flash", ModelPrice.FromPerMillion(0.075m, 0.30m), 8192),
        ("gemini-2.0-flash", ModelPrice.FromPerMillion(0.10m, 0.40m, 0.025m), 8192),
        ("gemini-2.5-pro", ModelPrice.FromPerMillion(1.25m, 10.00m, 0.125m), 65535),
        ("gemini-2.5-flash", ModelPrice.FromPerMillion(0.30m, 2.50m, 0.03m, 2.50m), 65535),

        // Open and other hosted models
        ("deepseek-chat", ModelPrice.FromPerMillion(0.28m, 0.42m, 0.028m), 8192),
        ("deepseek-reasoner", ModelPrice.FromPerMillion(0.28m, 0.42m, 0.028m), 65536),
        ("mistral-large-latest", ModelPrice.FromPerMillion(0.50m, 1.50m), 262144),
        ("llama-3.1-8b-instant", ModelPrice.FromPerMillion(0.05m, 0.08m), 8192),

        // The built-in emulator's own model (see EmbeddedDefaults): priced like gpt-4o-mini, so the default gateway
        // reports realistic, nonzero costs. Its other models carry real names and get those models' prices.
        ("mock-gpt", ModelPrice.FromPerMillion(0.15m, 0.60m, 0.075m), 16384),
    ];

    private static readonly FrozenDictionary<string, (ModelPrice Price, int MaxOutputTokens)> Entries =
        Table.ToFrozenDictionary(e => e.Model, e => (e.Price, e.MaxOutputTokens), StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, (ModelPrice Price, int MaxOutputTokens)>.AlternateLookup<ReadOnlySpan<char>> BySpan =
        Entries.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Every model in the curated table.</summary>
    public static IEnumerable<string> Models => Entries.Keys;

    /// <summary>
    /// The built-in price of a model, or null. <paramref name="provider"/> (the deployment's) finds LiteLLM's entries
    /// keyed <c>provider/model</c>; see <see cref="FindEntry"/> for how the curated table matches a name.
    /// </summary>
    public static ModelPrice? Find(string? model, string? provider = null) =>
        ModelCostMap.Operator?.Find(model, provider)?.Price ?? FindEntry(model)?.Price ?? ModelCostMap.Shipped.Find(model, provider)?.Price;

    /// <summary>The most tokens one answer of the model may hold, or null when no table knows the model.</summary>
    public static int? FindMaxOutputTokens(string? model, string? provider = null) =>
        ModelCostMap.Operator?.Find(model, provider)?.MaxOutputTokens ?? FindEntry(model)?.MaxOutputTokens ?? ModelCostMap.Shipped.Find(model, provider)?.MaxOutputTokens;

    /// <summary>LiteLLM's entry for a model (context window, mode, ...): the operator's copy, else the built-in one.</summary>
    public static ModelCostEntry? FindModelInfo(string? model, string? provider = null) =>
        ModelCostMap.Operator?.Find(model, provider) ?? ModelCostMap.Shipped.Find(model, provider);

    /// <summary>
    /// The built-in entry of a model, or null. Tries the exact name, then without a provider prefix
    /// (<c>openai/gpt-4o</c>) or Bedrock's vendor and region (<c>us.anthropic.</c>), then without date or version
    /// suffixes (<c>-2024-08-06</c>, <c>-20241022</c>, <c>-latest</c>, <c>-002</c>, <c>-v1:0</c>), ignoring case.
    /// </summary>
    private static (ModelPrice Price, int MaxOutputTokens)? FindEntry(string? model)
    {
        if (string.IsNullOrWhiteSpace(model)) return null;
        var name = model.AsSpan().Trim();
        if (BySpan.TryGetValue(name, out var entry)) return entry;
        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
            if (BySpan.TryGetValue(name, out entry)) return entry;
        }
        // Bedrock's ids put the vendor (and a region) in front with dots: us.anthropic.claude-sonnet-4-5-20250929-v1:0.
        var dash = name.IndexOf('-');
        var dot = dash < 0 ? -1 : name[..dash].LastIndexOf('.');
        if (dot >= 0)
        {
            name = name[(dot + 1)..];
            if (BySpan.TryGetValue(name, out entry)) return entry;
        }
        while (TryStripSuffix(ref name))
        {
            if (BySpan.TryGetValue(name, out entry)) return entry;
        }
        return null;
    }

    // 'd' is any digit, anything else itself.
    private static readonly string[] SuffixPatterns = ["-dddd-dd-dd", "-dddddddd", "-ddd", "-vd:d"];

    private static bool TryStripSuffix(ref ReadOnlySpan<char> name)
    {
        if (name.Length > 7 && name.EndsWith("-latest", StringComparison.OrdinalIgnoreCase))
        {
            name = name[..^7];
            return true;
        }
        foreach (var pattern in SuffixPatterns)
        {
            if (name.Length > pattern.Length && Matches(name[^pattern.Length..], pattern))
            {
                name = name[..^pattern.Length];
                return true;
            }
        }
        return false;
    }

    private static bool Matches(ReadOnlySpan<char> text, string pattern)
    {
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == 'd' ? !char.IsAsciiDigit(text[i]) : text[i] != pattern[i]) return false;
        }
        return true;
    }
}
