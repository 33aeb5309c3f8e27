using System.Text;
using System.Text.Json;

namespace AgenticGateway.Emulator;

/// <summary>
/// Deterministic content for the emulator. A "token" here is a word with its leading space, so usage numbers are
/// exactly the number of pieces emitted, and the same request always yields the same answer.
/// </summary>
internal static class MockText
{
    private static readonly string[] Vocabulary =
    [
        "the", "gateway", "routes", "each", "request", "to", "a", "healthy", "deployment", "and", "streams", "tokens",
        "back", "as", "they", "arrive", "with", "usage", "cost", "latency", "model", "agent", "sandbox", "runs", "code",
        "safely", "in", "isolation", "while", "retries", "fall", "over", "on", "failure", "keys", "budgets", "limits",
        "keep", "spend", "honest", "every", "answer", "is", "deterministic", "for", "tests", "benchmarks", "mock",
    ];

    /// <summary>FNV-1a over bytes: a stable seed from request content.</summary>
    public static ulong Hash(ReadOnlySpan<byte> data, ulong seed = 14695981039346656037UL)
    {
        var h = seed;
        foreach (var b in data) { h ^= b; h *= 1099511628211UL; }
        return h;
    }

    /// <summary>Splits text into token pieces: each piece is a run of spaces plus the word or symbol after it.</summary>
    public static List<string> Tokenize(string text)
    {
        var pieces = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i < text.Length && char.IsLetterOrDigit(text[i]))
                while (i < text.Length && char.IsLetterOrDigit(text[i])) i++;
            else if (i < text.Length) i++;
            pieces.Add(text[start..i]);
        }
        return pieces;
    }

    public static int CountTokens(string text)
    {
        var count = 0;
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i >= text.Length) break;
            if (char.IsLetterOrDigit(text[i])) while (i < text.Length && char.IsLetterOrDigit(text[i])) i++;
            else i++;
            count++;
        }
        return count;
    }

    /// <summary>A sentence of <paramref name="tokens"/> words, ending with a period, chosen from the seed.</summary>
    public static List<string> Sentence(ulong seed, int tokens)
    {
        var pieces = new List<string>(tokens);
        var x = seed | 1;
        for (var i = 0; i < tokens; i++)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            var word = Vocabulary[(int)(x % (ulong)Vocabulary.Length)];
            if (i == 0) word = char.ToUpperInvariant(word[0]) + word[1..];
            pieces.Add(i == 0 ? word : " " + word);
        }
        if (tokens > 0) pieces[^1] += ".";
        return pieces;
    }

    /// <summary>Splits a JSON string into pieces of a few characters, as providers stream tool arguments.</summary>
    public static List<string> Chunk(string text, int size = 4)
    {
        var pieces = new List<string>();
        for (var i = 0; i < text.Length; i += size) pieces.Add(text.Substring(i, Math.Min(size, text.Length - i)));
        return pieces;
    }

    /// <summary>A value matching a JSON schema (objects, arrays, enums, primitives), for tool arguments and json_schema output.</summary>
    public static string SampleFromSchema(JsonElement? schema)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer)) WriteSample(w, schema, "value", 0);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteSample(Utf8JsonWriter w, JsonElement? schema, string name, int depth)
    {
        if (schema is not { ValueKind: JsonValueKind.Object } s || depth > 8) { w.WriteStringValue("mock-" + name); return; }
        if (s.TryGetProperty("enum", out var e) && e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0) { e[0].WriteTo(w); return; }
        if (s.TryGetProperty("const", out var c)) { c.WriteTo(w); return; }
        var type = s.TryGetProperty("type", out var t) ? (t.ValueKind == JsonValueKind.Array ? t[0].GetString() : t.GetString()) : (s.TryGetProperty("properties", out _) ? "object" : "string");
        switch (type)
        {
            case "object":
                w.WriteStartObject();
                if (s.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
                {
                    HashSet<string>? required = null;
                    if (s.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array)
                        required = req.EnumerateArray().Select(r => r.GetString() ?? "").ToHashSet();
                    foreach (var p in props.EnumerateObject())
                    {
                        if (required is not null && !required.Contains(p.Name)) continue;
                        w.WritePropertyName(p.Name);
                        WriteSample(w, p.Value, p.Name, depth + 1);
                    }
                }
                w.WriteEndObject();
                break;
            case "array":
                w.WriteStartArray();
                if (s.TryGetProperty("items", out var items)) WriteSample(w, items, name, depth + 1);
                w.WriteEndArray();
                break;
            case "integer": w.WriteNumberValue(42); break;
            case "number": w.WriteNumberValue(4.2); break;
            case "boolean": w.WriteBooleanValue(true); break;
            case "null": w.WriteNullValue(); break;
            default: w.WriteStringValue("mock-" + name); break;
        }
    }
}
