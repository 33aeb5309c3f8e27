using System.Collections.Frozen;

namespace AgenticGateway.Pricing;

/// <summary>
/// Built-in prices of common models, so costs are known without configuration. A deployment's configured price
/// (input_cost_per_token and friends) always wins over this table.
/// </summary>
internal static class PriceBook
{
    // Dollars per million tokens: input, output, cached input, reasoning (null: the input or output rate).
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
    private static readonly (string Model, ModelPrice Price)[] Table =
    [
        // OpenAI
        ("gpt-4o", ModelPrice.FromPerMillion(2.50m, 10.00m, 1.25m)),
        ("gpt-4o-2024-05-13", ModelPrice.FromPerMillion(5.00m, 15.00m)), // the first snapshot kept its launch price
        ("gpt-4o-mini", ModelPrice.FromPerMillion(0.15m, 0.60m, 0.075m)),
        ("gpt-4.1", ModelPrice.FromPerMillion(2.00m, 8.00m, 0.50m)),
        ("gpt-4.1-mini", ModelPrice.FromPerMillion(0.40m, 1.60m, 0.10m)),
        ("gpt-4.1-nano", ModelPrice.FromPerMillion(0.10m, 0.40m, 0.025m)),
        ("o1", ModelPrice.FromPerMillion(15.00m, 60.00m, 7.50m)),
        ("o1-mini", ModelPrice.FromPerMillion(1.10m, 4.40m, 0.55m)),
        ("o3", ModelPrice.FromPerMillion(2.00m, 8.00m, 0.50m)),
        ("o3-mini", ModelPrice.FromPerMillion(1.10m, 4.40m, 0.55m)),
        ("o4-mini", ModelPrice.FromPerMillion(1.10m, 4.40m, 0.275m)),
        ("gpt-3.5-turbo", ModelPrice.FromPerMillion(0.50m, 1.50m)),
        ("gpt-3.5-turbo-instruct", ModelPrice.FromPerMillion(1.50m, 2.00m)),
        ("text-embedding-3-small", ModelPrice.FromPerMillion(0.02m, 0m)),
        ("text-embedding-3-large", ModelPrice.FromPerMillion(0.13m, 0m)),
        ("text-embedding-ada-002", ModelPrice.FromPerMillion(0.10m, 0m)),

        // Anthropic (model ids without their date; "claude-4-*" are LiteLLM's alternative names)
        ("claude-3-5-sonnet", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m)),
        ("claude-3-5-haiku", ModelPrice.FromPerMillion(0.80m, 4.00m, 0.08m)),
        ("claude-3-7-sonnet", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m)),
        ("claude-sonnet-4", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m)),
        ("claude-sonnet-4-0", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m)),
        ("claude-4-sonnet", ModelPrice.FromPerMillion(3.00m, 15.00m, 0.30m)),
        ("claude-opus-4", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m)),
        ("claude-opus-4-0", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m)),
        ("claude-4-opus", ModelPrice.FromPerMillion(15.00m, 75.00m, 1.50m)),
        ("claude-3-haiku", ModelPrice.FromPerMillion(0.25m, 1.25m, 0.03m)),

        // Google Gemini
        ("gemini-1.5-pro", ModelPrice.FromPerMillion(1.25m, 5.00m)),
        ("gemini-1.5-flash", ModelPrice.FromPerMillion(0.075m, 0.30m)),
        ("gemini-2.0-flash", ModelPrice.FromPerMillion(0.10m, 0.40m, 0.025m)),
        ("gemini-2.5-pro", ModelPrice.FromPerMillion(1.25m, 10.00m, 0.125m)),
        ("gemini-2.5-flash", ModelPrice.FromPerMillion(0.30m, 2.50m, 0.03m, 2.50m)),

        // Open and other hosted models
        ("deepseek-chat", ModelPrice.FromPerMillion(0.28m, 0.42m, 0.028m)),
        ("deepseek-reasoner", ModelPrice.FromPerMillion(0.28m, 0.42m, 0.028m)),
        ("mistral-large-latest", ModelPrice.FromPerMillion(0.50m, 1.50m)),
        ("llama-3.1-8b-instant", ModelPrice.FromPerMillion(0.05m, 0.08m)),

        // The built-in emulator's own model (see EmbeddedDefaults): priced like gpt-4o-mini, so the default gateway
        // reports realistic, nonzero costs. Its other models carry real names and get those models' prices.
        ("mock-gpt", ModelPrice.FromPerMillion(0.15m, 0.60m, 0.075m)),
    ];

    private static readonly FrozenDictionary<string, ModelPrice> Prices =
        Table.ToFrozenDictionary(e => e.Model, e => e.Price, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, ModelPrice>.AlternateLookup<ReadOnlySpan<char>> BySpan =
        Prices.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Every model in the table.</summary>
    public static IEnumerable<string> Models => Prices.Keys;

    /// <summary>
    /// The built-in price of a model, or null. Tries the exact name, then without a provider prefix
    /// (<c>openai/gpt-4o</c>), then without date or version suffixes (<c>-2024-08-06</c>, <c>-20241022</c>,
    /// <c>-latest</c>, <c>-002</c>), ignoring case.
    /// </summary>
    public static ModelPrice? Find(string? model)
    {
        if (string.IsNullOrWhiteSpace(model)) return null;
        var name = model.AsSpan().Trim();
        if (BySpan.TryGetValue(name, out var price)) return price;
        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
            if (BySpan.TryGetValue(name, out price)) return price;
        }
        while (TryStripSuffix(ref name))
        {
            if (BySpan.TryGetValue(name, out price)) return price;
        }
        return null;
    }

    // 'd' is any digit, anything else itself.
    private static readonly string[] SuffixPatterns = ["-dddd-dd-dd", "-dddddddd", "-ddd"];

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
