using System.Buffers;
using System.Collections.Frozen;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>
/// LiteLLM's <c>litellm_content_filter</c>: prebuilt patterns (the formats its patterns.json documents, written here as
/// source-generated expressions), custom patterns (compiled when the configuration is read) and blocked words
/// (case-insensitive substrings, as LiteLLM matches them). Masks with <c>[{PATTERN}_REDACTED]</c> and
/// <c>[KEYWORD_REDACTED]</c> unless configured otherwise. Every match is found, not only the first.
/// </summary>
internal sealed partial class ContentFilterDetector : ITextDetector, IKnowsKinds
{
    /// <summary>How far a custom pattern is assumed to reach: a stream holds back this much for it (its true reach is unknown).</summary>
    public const int CustomPatternReach = 256;
    private const string KeywordKindPrefix = "keyword:";

    private readonly (Regex Regex, string Name, GuardrailAction Action)[] _patterns;
    private readonly FrozenDictionary<string, string> _maskByName;
    private readonly BlockedWord[] _words;
    private readonly SearchValues<string>? _wordSearch;
    private readonly FrozenDictionary<string, BlockedWord> _wordByKind;
    private readonly string _keywordTag;

    public ContentFilterDetector(ContentFilterSettings settings)
    {
        var patterns = new List<(Regex, string, GuardrailAction)>();
        var masks = new Dictionary<string, string>(StringComparer.Ordinal);
        var reach = 0;
        foreach (var p in settings.Patterns)
        {
            Regex regex;
            int length;
            if (p.Prebuilt is { } name)
                (regex, length) = Prebuilt(name);
            else
                (regex, length) = (p.Custom!, CustomPatternReach);
            patterns.Add((regex, p.Name, p.Action == GuardrailItemAction.Block ? GuardrailAction.Block : GuardrailAction.Mask));
            masks[p.Name] = settings.PatternRedactionFormat.Replace("{pattern_name}", p.Name.ToUpperInvariant(), StringComparison.Ordinal);
            reach = Math.Max(reach, length);
        }
        _patterns = [.. patterns];
        _maskByName = masks.ToFrozenDictionary(StringComparer.Ordinal);
        _words = [.. settings.BlockedWords.OrderByDescending(w => w.Keyword.Length)];
        _wordSearch = _words.Length == 0 ? null : SearchValues.Create([.. _words.Select(w => w.Keyword)], StringComparison.OrdinalIgnoreCase);
        _wordByKind = _words.ToFrozenDictionary(w => KeywordKindPrefix + w.Keyword, StringComparer.Ordinal);
        _keywordTag = settings.KeywordRedactionTag;
        foreach (var w in _words) reach = Math.Max(reach, w.Keyword.Length);
        MaxMatchLength = Math.Max(reach, 1);
        Kinds = [.. masks.Keys, .. _wordByKind.Keys];
    }

    public int MaxMatchLength { get; }

    public IEnumerable<string> Kinds { get; }

    public bool Owns(string kind) => _maskByName.ContainsKey(kind) || kind.StartsWith(KeywordKindPrefix, StringComparison.Ordinal);

    public void Scan(ReadOnlySpan<char> text, List<TextFinding> findings)
    {
        foreach (var (regex, name, action) in _patterns)
        {
            try
            {
                foreach (var m in regex.EnumerateMatches(text))
                    if (m.Length > 0) findings.Add(new TextFinding(name, m.Index, m.Length, action));
            }
            catch (RegexMatchTimeoutException)
            {
                // A text that makes a pattern slow cannot be shown to be clean: refuse it rather than pass it unchecked.
                findings.Add(new TextFinding(name, 0, text.Length, GuardrailAction.Block));
            }
        }
        if (_wordSearch is null) return;
        var at = 0;
        while (at < text.Length)
        {
            var i = text[at..].IndexOfAny(_wordSearch);
            if (i < 0) break;
            var start = at + i;
            // The longest word starting here (the words are sorted longest first); IndexOfAny found at least one.
            var rest = text[start..];
            var word = _words[0];
            foreach (var w in _words)
                if (rest.StartsWith(w.Keyword, StringComparison.OrdinalIgnoreCase)) { word = w; break; }
            findings.Add(new TextFinding(KeywordKindPrefix + word.Keyword, start, word.Keyword.Length,
                word.Action == GuardrailItemAction.Block ? GuardrailAction.Block : GuardrailAction.Mask));
            at = start + word.Keyword.Length;
        }
    }

    public string MaskText(in TextFinding finding) =>
        _maskByName.TryGetValue(finding.Kind, out var mask) ? mask : _keywordTag;

    public string BlockMessage(in TextFinding finding)
    {
        // LiteLLM's texts (content_filter.py): "Content blocked: {pattern} pattern detected",
        // "Content blocked: keyword '{keyword}' detected ({description})".
        if (_wordByKind.TryGetValue(finding.Kind, out var word))
            return word.Description is { Length: > 0 } d ? $"Content blocked: keyword '{word.Keyword}' detected ({d})" : $"Content blocked: keyword '{word.Keyword}' detected";
        return $"Content blocked: {finding.Kind} pattern detected";
    }

    /// <summary>A prebuilt pattern and the longest text it can match.</summary>
    internal static (Regex Regex, int MaxLength) Prebuilt(string name) => name switch
    {
        "us_ssn" => (UsSsn(), 11),
        "us_ssn_no_dash" => (UsSsnNoDash(), 9),
        "email" => (Email(), 320),
        "phone" or "us_phone" => (UsPhone(), 20),
        "visa" => (Visa(), 19),
        "mastercard" => (Mastercard(), 19),
        "amex" => (Amex(), 17),
        "discover" => (Discover(), 19),
        "credit_card" => (AnyCard(), 19),
        "aws_access_key" => (AwsAccessKey(), 20),
        "aws_secret_key" => (AwsSecretKey(), 40),
        "github_token" => (GitHubToken(), 40),
        "slack_token" => (SlackToken(), 64),
        "generic_api_key" => (GenericApiKey(), 300),
        "ipv4" => (Ipv4(), 15),
        "ipv6" => (Ipv6(), 45),
        "url" => (Url(), 512),
        "passport_us" => (PassportUs(), 9),
        "passport_uk" => (PassportUk(), 9),
        "passport_germany" => (PassportGermany(), 9),
        "passport_france" => (PassportFrance(), 9),
        "passport_netherlands" => (PassportNetherlands(), 9),
        "passport_canada" => (PassportCanada(), 9),
        "passport_india" or "passport_australia" => (PassportIndia(), 8),
        "passport_china" => (PassportChina(), 9),
        "passport_japan" => (PassportJapan(), 9),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a prebuilt pattern (the configuration reader checks the name)"),
    };

    // The formats follow LiteLLM's patterns.json descriptions; bounded repetitions keep each match's reach known.
    [GeneratedRegex(@"\b\d{3}-\d{2}-\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex UsSsn();
    [GeneratedRegex(@"\b(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex UsSsnNoDash();
    [GeneratedRegex(@"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,240}\.[A-Za-z]{2,12}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Email();
    [GeneratedRegex(@"(?<!\w)(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex UsPhone();
    [GeneratedRegex(@"\b4\d{3}[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Visa();
    [GeneratedRegex(@"\b5[1-5]\d{2}[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Mastercard();
    [GeneratedRegex(@"\b3[47]\d{2}[\s-]?\d{6}[\s-]?\d{5}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Amex();
    [GeneratedRegex(@"\b6(?:011|5\d{2})[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Discover();
    [GeneratedRegex(@"\b(?:4\d{3}[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}|5[1-5]\d{2}[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}|3[47]\d{2}[\s-]?\d{6}[\s-]?\d{5}|6(?:011|5\d{2})[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4})\b", RegexOptions.CultureInvariant)]
    private static partial Regex AnyCard();
    [GeneratedRegex(@"\bAKIA[0-9A-Z]{16}\b", RegexOptions.CultureInvariant)]
    private static partial Regex AwsAccessKey();
    [GeneratedRegex(@"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])", RegexOptions.CultureInvariant)]
    private static partial Regex AwsSecretKey();
    [GeneratedRegex(@"\bgh[ps]_[A-Za-z0-9]{36}\b", RegexOptions.CultureInvariant)]
    private static partial Regex GitHubToken();
    [GeneratedRegex(@"\bxox[pboa]-\d{10,13}-\d{10,13}-[A-Za-z0-9]{24,32}\b", RegexOptions.CultureInvariant)]
    private static partial Regex SlackToken();
    [GeneratedRegex(@"\b[Aa][Pp][Ii][-_]?[Kk][Ee][Yy][\s:=]{1,10}['""]?[A-Za-z0-9_-]{20,256}['""]?", RegexOptions.CultureInvariant)]
    private static partial Regex GenericApiKey();
    [GeneratedRegex(@"\b(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4();
    [GeneratedRegex(@"(?<![0-9A-Fa-f:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|:(?::[0-9A-Fa-f]{1,4}){1,7})(?![0-9A-Fa-f:])", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv6();
    [GeneratedRegex(@"\b(?:https?://|www\.)[^\s/$.?#][^\s]{0,500}\b", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Url();
    [GeneratedRegex(@"\b(?:[A-Z]\d{8}|\d{9})\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportUs();
    [GeneratedRegex(@"\b\d{9}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportUk();
    [GeneratedRegex(@"\b[CFGHJKLMNPRTVWXYZ0-9]{9}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportGermany();
    [GeneratedRegex(@"\b\d{2}[A-Z]{2}\d{5}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportFrance();
    [GeneratedRegex(@"\b[A-Z]{2}[A-Z0-9]{6}\d\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportNetherlands();
    [GeneratedRegex(@"\b(?:[A-Z]{2}\d{6}|[A-Z]\d{6}[A-Z]{2})\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportCanada();
    [GeneratedRegex(@"\b[A-Z]\d{7}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportIndia();
    [GeneratedRegex(@"\b[EeGg]\d{8}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportChina();
    [GeneratedRegex(@"\b[A-Z]{2}\d{7}\b", RegexOptions.CultureInvariant)]
    private static partial Regex PassportJapan();
}
