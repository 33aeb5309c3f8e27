using System.Text.RegularExpressions;

namespace AgenticGateway.Caching;

/// <summary>
/// The check a semantic match must pass before its answer is served: embeddings put "turn on the lights" next to
/// "turn off the lights", "3 apples" next to "4 apples" and "the capital of France" next to "the capital of Spain",
/// so a match is refused when the two questions differ in negation, polarity (on/off, enable/disable, before/after,
/// ...), numbers, or named things (capitalised names, acronyms, quoted strings, code identifiers, URLs, e-mails).
/// It errs towards refusing: a refused paraphrase costs one upstream call, a false hit serves a wrong answer.
/// </summary>
internal static partial class FalseHitGuard
{
    /// <summary>Why the two questions must not share an answer, or null when nothing found tells them apart.</summary>
    public static string? Difference(string a, string b)
    {
        var wa = Words(a);
        var wb = Words(b);
        if (Negations(wa) != Negations(wb)) return "negation";
        if (!Polar(wa).SetEquals(Polar(wb))) return "polarity";
        if (!Numbers(a, wa).SetEquals(Numbers(b, wb))) return "number";
        var lowerA = a.ToLowerInvariant();
        var lowerB = b.ToLowerInvariant();
        var setA = wa.ToHashSet(StringComparer.Ordinal);
        var setB = wb.ToHashSet(StringComparer.Ordinal);
        if (Names(a).Any(n => !setB.Contains(n)) || Names(b).Any(n => !setA.Contains(n))) return "name";
        if (Literals(a).Any(l => !lowerB.Contains(l, StringComparison.Ordinal)) || Literals(b).Any(l => !lowerA.Contains(l, StringComparison.Ordinal))) return "literal";
        if (Swapped(wa, wb, setB) || Swapped(wb, wa, setA)) return "direction";
        return null;
    }

    private static readonly HashSet<string> Directions = new(StringComparer.Ordinal) { "to", "into", "from", "than", "vs", "versus" };
    private static readonly HashSet<string> Articles = new(StringComparer.Ordinal) { "a", "an", "the" };

    /// <summary>(preposition, the word after it) for "to", "into", "from", "than": "Fahrenheit to Celsius" gives (to, celsius).</summary>
    private static HashSet<(string, string)> Targets(List<string> words)
    {
        var set = new HashSet<(string, string)>();
        for (var i = 0; i < words.Count - 1; i++)
        {
            if (!Directions.Contains(words[i])) continue;
            var j = i + 1;
            while (j < words.Count - 1 && Articles.Contains(words[j])) j++;
            set.Add((words[i], words[j]));
        }
        return set;
    }

    /// <summary>
    /// The same words with the direction turned round ("Fahrenheit to Celsius" against "Celsius to Fahrenheit"): a word
    /// after "to" in one question that the other has too, but after none of its own "to"s although it has one.
    /// </summary>
    private static bool Swapped(List<string> a, List<string> b, HashSet<string> wordsOfB)
    {
        var ta = Targets(a);
        if (ta.Count == 0) return false;
        var tb = Targets(b);
        foreach (var (prep, word) in ta)
            if (wordsOfB.Contains(word) && !tb.Contains((prep, word)) && tb.Any(t => t.Item1 == prep)) return true;
        return false;
    }

    /// <summary>Lower-case words, apostrophes kept inside ("don't"), possessive 's dropped.</summary>
    internal static List<string> Words(string text)
    {
        var words = new List<string>();
        foreach (Match m in WordPattern().Matches(text))
        {
            var w = m.Value.ToLowerInvariant().Replace('\u2019', '\'');
            if (w.EndsWith("'s", StringComparison.Ordinal)) w = w[..^2];
            words.Add(w);
        }
        return words;
    }

    private static readonly HashSet<string> Negators = new(StringComparer.Ordinal)
    {
        "not", "no", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor", "without", "cannot", "cant",
        "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt", "couldnt", "hasnt",
        "havent", "hadnt", "mustnt", "neednt", "aint", "unless", "except", "excluding",
    };

    /// <summary>How many negations the text has ("do not" and "don't" count the same).</summary>
    private static int Negations(List<string> words)
    {
        var n = 0;
        foreach (var w in words)
            if (w.EndsWith("n't", StringComparison.Ordinal) || Negators.Contains(w)) n++;
        return n;
    }

    // Words whose opposite is as close in an embedding as a synonym is. Each maps to its canonical form.
    private static readonly Dictionary<string, string> PolarWords = BuildPolar(
        "on", "off", "enable enables enabled enabling", "disable disables disabled disabling", "add adds added adding",
        "remove removes removed removing", "delete deletes deleted deleting", "insert inserts inserted", "increase increases increased increasing",
        "decrease decreases decreased decreasing", "raise raises raised", "lower lowers lowered lowest", "up", "down",
        "before", "after", "above", "below", "over", "under", "more", "less", "most", "least", "max maximum", "min minimum",
        "higher highest", "larger largest", "smaller smallest", "bigger biggest", "greater greatest", "fewer fewest",
        "open opens opened opening", "close closes closed closing", "start starts started starting", "stop stops stopped stopping",
        "begin begins beginning", "end ends ended ending", "allow allows allowed allowing", "deny denies denied denying",
        "accept accepts accepted", "reject rejects rejected", "true", "false", "yes", "include includes included including",
        "exclude excludes excluded", "import imports imported", "export exports exported", "encrypt encrypts encrypted encryption",
        "decrypt decrypts decrypted decryption", "buy buys buying bought", "sell sells selling sold", "upload uploads uploaded",
        "download downloads downloaded", "push pushes pushed", "pull pulls pulled", "ascending asc", "descending desc",
        "first", "last", "left", "right", "north", "south", "east", "west", "input", "output", "send sends sent", "receive receives received",
        "win wins won", "lose loses lost", "positive", "negative", "inside", "outside", "lock locks locked", "unlock unlocks unlocked",
        "show shows showed", "hide hides hid hidden", "hot", "cold", "early earlier earliest", "late later latest", "old older oldest",
        "new newer newest", "best", "worst", "pros", "cons", "advantages advantage", "disadvantages disadvantage", "same", "different",
        "similar", "true", "why", "when", "where", "who", "how", "which", "connect connects connected", "disconnect disconnects disconnected",
        "install installs installed", "uninstall uninstalls uninstalled", "mount", "unmount", "compress compressed", "decompress decompressed",
        "encode encodes encoded", "decode decodes decoded", "serialize serialise", "deserialize deserialise", "subscribe", "unsubscribe",
        "follow", "unfollow", "like", "dislike", "legal", "illegal", "possible", "impossible", "safe", "unsafe", "valid", "invalid",
        "visible", "invisible", "sync synchronous", "async asynchronous", "server", "client", "read reads", "write writes",
        "male", "female", "morning", "evening", "night", "day", "today", "tomorrow", "yesterday", "weekly", "daily", "monthly", "yearly");

    private static Dictionary<string, string> BuildPolar(params string[] groups)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var forms = group.Split(' ');
            foreach (var f in forms) map[f] = forms[0];
        }
        return map;
    }

    private static HashSet<string> Polar(List<string> words)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var w in words)
            if (PolarWords.TryGetValue(w, out var canonical)) set.Add(canonical);
        return set;
    }

    private static readonly Dictionary<string, string> NumberWords = new(StringComparer.Ordinal)
    {
        ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6",
        ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12",
        ["thirteen"] = "13", ["fourteen"] = "14", ["fifteen"] = "15", ["sixteen"] = "16", ["seventeen"] = "17",
        ["eighteen"] = "18", ["nineteen"] = "19", ["twenty"] = "20", ["thirty"] = "30", ["forty"] = "40", ["fifty"] = "50",
        ["sixty"] = "60", ["seventy"] = "70", ["eighty"] = "80", ["ninety"] = "90", ["hundred"] = "100", ["thousand"] = "1000",
        ["million"] = "1000000", ["billion"] = "1000000000", ["half"] = "0.5", ["twice"] = "2x", ["double"] = "2x", ["triple"] = "3x",
        ["second"] = "2nd", ["third"] = "3rd", ["fourth"] = "4th", ["fifth"] = "5th", ["tenth"] = "10th", ["dozen"] = "12",
    };

    /// <summary>Numbers as digits ("3", "3.5", "1,000" → "1000") and number words folded to digits ("three" → "3").</summary>
    private static HashSet<string> Numbers(string text, List<string> words)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in NumberPattern().Matches(text)) set.Add(m.Value.Replace(",", "", StringComparison.Ordinal).TrimEnd('.'));
        foreach (var w in words)
            if (NumberWords.TryGetValue(w, out var digits)) set.Add(digits);
        return set;
    }

    /// <summary>
    /// Capitalised words that are not a sentence's first (a name mid-sentence), and acronyms anywhere; lower-cased.
    /// Each must appear, in any case, among the other question's words: "Is Paris big?" and "How big is Paris?" agree.
    /// </summary>
    private static IEnumerable<string> Names(string text)
    {
        var sentenceStart = true;
        foreach (Match m in TokenPattern().Matches(text))
        {
            var token = m.Value;
            if (token is "." or "?" or "!" or ":" or "\n")
            {
                sentenceStart = true;
                continue;
            }
            var acronym = token.Length >= 2 && token.All(c => char.IsUpper(c) || char.IsDigit(c)) && token.Any(char.IsLetter);
            var name = !sentenceStart && char.IsUpper(token[0]) && token != "I" && !token.StartsWith("I'", StringComparison.Ordinal);
            sentenceStart = false;
            if (acronym || name)
            {
                var w = token.ToLowerInvariant().Replace('\u2019', '\'');
                yield return w.EndsWith("'s", StringComparison.Ordinal) ? w[..^2] : w;
            }
        }
    }

    /// <summary>Quoted strings, code identifiers (snake_case, camelCase, dotted, calls), URLs, e-mails and paths, lower-cased: each must occur in the other question.</summary>
    private static IEnumerable<string> Literals(string text)
    {
        foreach (Match m in QuotedPattern().Matches(text))
            yield return (m.Groups[1].Success ? m.Groups[1] : m.Groups[2].Success ? m.Groups[2] : m.Groups[3]).Value.ToLowerInvariant();
        foreach (Match m in LiteralPattern().Matches(text)) yield return m.Value.TrimEnd('.', ',', '?', '!', ')').ToLowerInvariant();
    }

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:['\u2019][\p{L}]+)*")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"(?<![\p{L}\d.])\d+(?:[.,]\d+)*")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:['\u2019][\p{L}]+)*|[.?!:\n]")]
    private static partial Regex TokenPattern();

    [GeneratedRegex("\"([^\"]{1,200})\"|`([^`]{1,200})`|(?<![\\p{L}])'([^']{1,200})'(?![\\p{L}])")]
    private static partial Regex QuotedPattern();

    [GeneratedRegex(@"https?://\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:[/~][\w.-]+){2,}|\b\w+(?:[._]\w+)+\b|\b[a-z]+[A-Z]\w*\b|\b\w+\(\)")]
    private static partial Regex LiteralPattern();
}
