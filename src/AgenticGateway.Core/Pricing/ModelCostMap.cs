using System.Collections.Frozen;
using System.Text.Json;

namespace AgenticGateway.Pricing;

/// <summary>What LiteLLM's model cost map says of one model, in the fields the gateway uses.</summary>
/// <param name="Price">Null when the entry has no per-token, per-query or per-request price (an image model, say).</param>
/// <param name="MaxInputTokens"><c>max_input_tokens</c>: the context window.</param>
/// <param name="MaxOutputTokens"><c>max_output_tokens</c>, else LiteLLM's legacy <c>max_tokens</c>.</param>
/// <param name="MaxTokens"><c>max_tokens</c> as the map has it (LiteLLM's /model/info shows it).</param>
/// <param name="Mode"><c>mode</c>: chat, embedding, completion, rerank, ...</param>
/// <param name="CacheCreationInputPerToken"><c>cache_creation_input_token_cost</c>, shown; not charged (usage does not count cache writes apart).</param>
internal sealed record ModelCostEntry(ModelPrice? Price, int? MaxInputTokens, int? MaxOutputTokens, int? MaxTokens, string? Mode,
    decimal? CacheCreationInputPerToken, string? Provider);

/// <summary>
/// LiteLLM's model price and context-window table (<c>model_prices_and_context_window.json</c>, MIT, from
/// github.com/BerriAI/litellm), read as data: a copy ships inside the gateway (Pricing/model_prices_and_context_window.json,
/// parsed on first use), and an operator can point AGW_MODEL_COST_MAP at a newer one (<c>agw prices update</c> writes it).
/// Fields the gateway does not use are skipped; an entry whose used fields have the wrong type is skipped with a warning.
/// </summary>
internal sealed class ModelCostMap
{
    /// <summary>The file an operator's copy is read from, when set.</summary>
    public const string PathVariable = "AGW_MODEL_COST_MAP";
    public const string FileName = "model_prices_and_context_window.json";
    /// <summary>Where LiteLLM publishes the current map (its own default model_cost_map_url).</summary>
    public const string LiteLlmUrl = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

    // Top-level keys of LiteLLM's file that are not models: its field documentation and its pattern rules.
    private static readonly FrozenSet<string> NotModels = FrozenSet.Create(StringComparer.Ordinal, "sample_spec", "fallback_generalizations", "last_updated");

    private readonly FrozenDictionary<string, ModelCostEntry> _entries;
    private readonly FrozenDictionary<string, ModelCostEntry>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    private ModelCostMap(FrozenDictionary<string, ModelCostEntry> entries, string source, IReadOnlyList<string> warnings)
    {
        _entries = entries;
        _bySpan = entries.GetAlternateLookup<ReadOnlySpan<char>>();
        Source = source;
        Warnings = warnings;
    }

    public string Source { get; }
    public int Count => _entries.Count;
    /// <summary>Entries skipped, each with why.</summary>
    public IReadOnlyList<string> Warnings { get; }

    private static readonly Lazy<ModelCostMap> ShippedMap = new(LoadShipped);
    private static readonly Lazy<(ModelCostMap? Map, string? Error)> OperatorMap = new(() => LoadOperator(Environment.GetEnvironmentVariable(PathVariable)));

    /// <summary>The copy built into the gateway.</summary>
    public static ModelCostMap Shipped => ShippedMap.Value;

    /// <summary>The operator's copy (AGW_MODEL_COST_MAP), when one is set and readable.</summary>
    public static ModelCostMap? Operator => OperatorMap.Value.Map;

    /// <summary>Why the operator's copy is not used (unreadable, not JSON), for the start-up warnings; else null.</summary>
    public static string? OperatorError => OperatorMap.Value.Error;

    /// <summary>
    /// The entry for a model: <c>provider/model</c> first (LiteLLM keys many providers so: <c>groq/...</c>,
    /// <c>gemini/...</c>), then the model as given, then its last path segment (<c>openrouter/openai/gpt-4.1</c>).
    /// Case is ignored.
    /// </summary>
    public ModelCostEntry? Find(string? model, string? provider = null)
    {
        if (string.IsNullOrWhiteSpace(model)) return null;
        var name = model.AsSpan().Trim();
        if (provider is { Length: > 0 } && !(name.Length > provider.Length && name[provider.Length] == '/' && name.StartsWith(provider, StringComparison.OrdinalIgnoreCase)))
        {
            // provider/model, built on the stack: wildcard deployments look prices up on every request.
            var length = provider.Length + 1 + name.Length;
            Span<char> key = length <= 256 ? stackalloc char[length] : new char[length];
            provider.CopyTo(key);
            key[provider.Length] = '/';
            name.CopyTo(key[(provider.Length + 1)..]);
            if (_bySpan.TryGetValue(key, out var qualified)) return qualified;
        }
        if (_bySpan.TryGetValue(name, out var entry)) return entry;
        var slash = name.LastIndexOf('/');
        return slash >= 0 && _bySpan.TryGetValue(name[(slash + 1)..], out entry) ? entry : null;
    }

    /// <summary>Reads a map. Throws <see cref="JsonException"/> only when the file as a whole is not a JSON object.</summary>
    public static ModelCostMap Parse(ReadOnlySpan<byte> utf8, string source)
    {
        var entries = new Dictionary<string, ModelCostEntry>(4096, StringComparer.OrdinalIgnoreCase);
        var warnings = new List<string>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"{source}: the model cost map must be a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject || NotModels.Contains(name))
            {
                reader.Skip();
                continue;
            }
            if (ReadEntry(ref reader, out var problem) is { } entry) entries[name] = entry;
            else warnings.Add($"{source}: model '{name}' skipped: {problem}");
        }
        return new ModelCostMap(entries.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), source, warnings);
    }

    /// <summary>One model's object, the reader on its StartObject; on return the reader is on its EndObject.</summary>
    private static ModelCostEntry? ReadEntry(ref Utf8JsonReader reader, out string? problem)
    {
        problem = null;
        decimal? input = null, output = null, cacheRead = null, cacheCreation = null, reasoning = null, perRequest = null, perQuery = null;
        int? maxInput = null, maxOutput = null, maxTokens = null;
        string? mode = null, provider = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.GetString();
            reader.Read();
            switch (field)
            {
                case "input_cost_per_token": input = Dollars(ref reader, field, ref problem); break;
                case "output_cost_per_token": output = Dollars(ref reader, field, ref problem); break;
                case "cache_read_input_token_cost": cacheRead = Dollars(ref reader, field, ref problem); break;
                case "cache_creation_input_token_cost": cacheCreation = Dollars(ref reader, field, ref problem); break;
                case "output_cost_per_reasoning_token": reasoning = Dollars(ref reader, field, ref problem); break;
                case "input_cost_per_request": perRequest = Dollars(ref reader, field, ref problem); break;
                case "input_cost_per_query": perQuery = Dollars(ref reader, field, ref problem); break;
                case "max_input_tokens": maxInput = Tokens(ref reader, field, ref problem); break;
                case "max_output_tokens": maxOutput = Tokens(ref reader, field, ref problem); break;
                case "max_tokens": maxTokens = Tokens(ref reader, field, ref problem); break;
                case "mode": mode = Text(ref reader, field, ref problem); break;
                case "litellm_provider": provider = Text(ref reader, field, ref problem); break;
                default: reader.Skip(); break;
            }
        }
        if (problem is not null) return null;
        ModelPrice? price = null;
        if (input is not null || output is not null || perRequest is not null || perQuery is not null)
        {
            price = new ModelPrice
            {
                InputPerToken = input ?? 0,
                OutputPerToken = output ?? 0,
                CachedInputPerToken = cacheRead,
                ReasoningPerToken = reasoning,
                // A rerank request is one query (LiteLLM's input_cost_per_query); a per-request price is the same kind.
                PerRequest = (perRequest ?? 0) + (mode == "rerank" ? perQuery ?? 0 : 0),
            };
        }
        return new ModelCostEntry(price, maxInput, maxOutput ?? maxTokens, maxTokens, mode, cacheCreation, provider);
    }

    // A wrong type or a negative value makes the entry unusable; reading continues to the entry's end.
    private static decimal? Dollars(ref Utf8JsonReader reader, string field, ref string? problem)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        // As a decimal from the text, not through a double: 2.5e-06 stays exactly $0.0000025.
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDecimal(out var dollars) && dollars is >= 0 and < 1_000_000) return dollars;
        problem ??= $"{field} is not a price in dollars";
        reader.Skip();
        return null;
    }

    private static int? Tokens(ref Utf8JsonReader reader, string field, ref string? problem)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var d) && d is >= 0 and <= int.MaxValue && d == Math.Floor(d)) return (int)d;
        problem ??= $"{field} is not a token count";
        reader.Skip();
        return null;
    }

    private static string? Text(ref Utf8JsonReader reader, string field, ref string? problem)
    {
        if (reader.TokenType is JsonTokenType.String) return reader.GetString();
        if (reader.TokenType is JsonTokenType.Null) return null;
        problem ??= $"{field} is not a string";
        reader.Skip();
        return null;
    }

    private static ModelCostMap LoadShipped()
    {
        using var stream = typeof(ModelCostMap).Assembly.GetManifestResourceStream(FileName)
            ?? throw new InvalidOperationException($"the built-in {FileName} is missing from the assembly");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return Parse(bytes, "built-in " + FileName);
    }

    /// <summary>An operator's file; an unreadable one is reported, and the built-in copy serves.</summary>
    internal static (ModelCostMap? Map, string? Error) LoadOperator(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) return (null, null);
        try { return (Parse(File.ReadAllBytes(path), path), null); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return (null, $"{PathVariable}={path}: cannot read the model cost map ({ex.Message}); the built-in copy is used");
        }
    }
}
