using System.Text;

namespace AgenticGateway.Emulator;

/// <summary>
/// A deterministic lexical embedding for the emulator's model <see cref="ModelName"/> (and any model whose name contains
/// "lexical"): hashed, normalised word unigrams plus unordered neighbour pairs with light stemming and stop words dropped. The default
/// emulator embedding is random per text, so nothing is near anything; this one puts texts that share their content
/// words close together and unrelated texts far apart, which is what the semantic cache's tests and its replay harness
/// (bench/cache.sh) need. It knows no synonyms: paraphrases it sees as close are rewordings, reorderings and fillers.
/// </summary>
internal static class LexicalEmbedding
{
    public const string ModelName = "mock-lexical-embed";

    public static bool Applies(string model) => model.Contains("lexical", StringComparison.OrdinalIgnoreCase);

    // Words that carry no topic. Negations and polar words (not, no, on, off, ...) are deliberately NOT here: the
    // embedding stays close for "turn on" vs "turn off" (as real embeddings do), and it is the cache's guard that must
    // tell them apart.
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "to", "of", "for", "in",
        "at", "by", "with", "from", "and", "or", "it", "its", "this", "that", "these", "those", "me", "my", "i", "you",
        "your", "we", "our", "us", "please", "can", "could", "would", "will", "shall", "should", "tell", "what", "whats",
        "how", "which", "who", "whom", "there", "here", "some", "any", "kindly", "just", "so", "as", "about", "give",
        "show", "explain", "describe", "let", "know", "want", "need", "like", "hey", "hi", "hello", "thanks", "thank",
        "quick", "question", "briefly", "short", "s",
    };

    /// <summary>Fills <paramref name="vector"/> with the unit embedding of <paramref name="text"/> (all zeros but one component for a text with no content words).</summary>
    public static void Fill(float[] vector, string text)
    {
        Array.Clear(vector);
        string? previous = null;
        var any = false;
        foreach (var word in Words(text))
        {
            Add(vector, word, 1f);
            // Neighbouring pairs in either order: "France's capital" and "capital of France" share theirs.
            if (previous is not null) Add(vector, string.CompareOrdinal(previous, word) < 0 ? previous + " " + word : word + " " + previous, 0.5f);
            previous = word;
            any = true;
        }
        if (!any) Add(vector, "\u0000empty", 1f);
        double norm = 0;
        foreach (var v in vector) norm += v * v;
        var scale = (float)(1 / Math.Sqrt(norm));
        for (var i = 0; i < vector.Length; i++) vector[i] *= scale;
    }

    /// <summary>Lower-cased content words with apostrophes folded ("what's" → "whats", "France's" → "frances" → "france").</summary>
    internal static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        for (var i = 0; i <= text.Length; i++)
        {
            var c = i < text.Length ? text[i] : ' ';
            if (char.IsLetterOrDigit(c)) word.Append(char.ToLowerInvariant(c));
            else if (c is '\'' or '\u2019' && word.Length > 0) continue;
            else if (word.Length > 0)
            {
                var w = word.ToString();
                word.Clear();
                if (StopWords.Contains(w)) continue;
                var stem = Stem(w);
                if (stem.Length > 0 && !StopWords.Contains(stem)) yield return stem;
            }
        }
    }

    /// <summary>A light suffix stripper: enough that "running"/"runs"/"run" and "cities"/"city" meet.</summary>
    internal static string Stem(string w)
    {
        if (w.Length <= 3 || char.IsDigit(w[0])) return w;
        if (w.EndsWith("ies", StringComparison.Ordinal) && w.Length > 4) return w[..^3] + "y";
        if (w.EndsWith("ing", StringComparison.Ordinal) && w.Length > 5) return Undouble(w[..^3]);
        if (w.EndsWith("ed", StringComparison.Ordinal) && w.Length > 4) return Undouble(w[..^2]);
        if (w.EndsWith("ly", StringComparison.Ordinal) && w.Length > 4) return w[..^2];
        if (w.EndsWith("es", StringComparison.Ordinal) && w.Length > 4 && w[^3] is 's' or 'x' or 'z' or 'h') return w[..^2];
        if (w.EndsWith('s') && !w.EndsWith("ss", StringComparison.Ordinal) && !w.EndsWith("us", StringComparison.Ordinal) && !w.EndsWith("is", StringComparison.Ordinal)) return w[..^1];
        return w;
    }

    private static string Undouble(string w) => w.Length > 2 && w[^1] == w[^2] && w[^1] is not ('l' or 's' or 'z') ? w[..^1] : w;

    /// <summary>Feature hashing with a sign bit, so collisions cancel out on average instead of adding up.</summary>
    private static void Add(float[] vector, string feature, float weight)
    {
        var h = MockText.Hash(Encoding.UTF8.GetBytes(feature));
        var index = (int)(h % (ulong)vector.Length);
        vector[index] += (h >> 63) == 0 ? weight : -weight;
    }
}
