using System.Text.RegularExpressions;
using AgenticGateway.Configuration;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>
/// LiteLLM's <c>hide-secrets</c> answered locally with gitleaks-class rules, each named after the detect-secrets plugin
/// LiteLLM runs for it (so <c>detect_secrets_config.plugins_used</c> keeps its meaning). Where a rule matches a
/// <c>name = value</c> pair only the value is replaced, with LiteLLM's <c>[REDACTED]</c>.
/// </summary>
internal sealed partial class SecretDetector : ITextDetector, IKnowsKinds
{
    /// <summary>A rule: its plugin name, its pattern, the group that is the secret (0: the whole match), and its reach.</summary>
    private sealed record Rule(string Plugin, Regex Regex, int Group, int MaxLength);

    private static readonly Rule[] AllRules =
    [
        new("PrivateKeyDetector", PrivateKey(), 0, 4200),
        new("AWSKeyDetector", AwsAccessKeyId(), 0, 20),
        new("AWSKeyDetector", AwsSecretKey(), 1, 100),
        new("AnthropicApiKeyDetector", AnthropicKey(), 0, 140),
        new("OpenAIApiKeyDetector", OpenAiKey(), 0, 220),
        new("GCPApiKeyDetector", GoogleApiKey(), 0, 39),
        new("GitHubTokenCustomDetector", GitHubToken(), 0, 260),
        new("GitLabDetector", GitLabToken(), 0, 26),
        new("SlackDetector", SlackToken(), 0, 210),
        new("SlackDetector", SlackWebhook(), 0, 200),
        new("StripeDetector", StripeKey(), 0, 110),
        new("HuggingFaceDetector", HuggingFaceToken(), 0, 43),
        new("NpmDetector", NpmToken(), 0, 40),
        new("SendGridApiTokenDetector", SendGridKey(), 0, 69),
        new("TwilioKeyDetector", TwilioKey(), 0, 34),
        new("MailchimpDetector", MailchimpKey(), 0, 37),
        new("JwtTokenDetector", Jwt(), 0, 2200),
        new("BasicAuthDetector", BasicAuth(), 1, 300),
        new("KeywordDetector", KeywordAssignment(), 2, 300),
    ];

    internal static IEnumerable<string> RulePlugins => AllRules.Select(r => r.Plugin);

    private readonly Rule[] _rules;

    public SecretDetector(SecretSettings settings)
    {
        var plugins = settings.Plugins.Select(p => p == "JWTBase64Detector" ? "JwtTokenDetector" : p).ToHashSet(StringComparer.Ordinal);
        _rules = plugins.Count == 0 ? AllRules : [.. AllRules.Where(r => plugins.Contains(r.Plugin))];
        MaxMatchLength = _rules.Length == 0 ? 1 : _rules.Max(r => r.MaxLength);
    }

    public int MaxMatchLength { get; }

    public IEnumerable<string> Kinds => _rules.Select(r => r.Plugin).Distinct();

    public bool Owns(string kind) => kind.EndsWith("Detector", StringComparison.Ordinal);

    public void Scan(ReadOnlySpan<char> text, List<TextFinding> findings)
    {
        string? whole = null;
        foreach (var rule in _rules)
        {
            if (rule.Group == 0)
            {
                foreach (var m in rule.Regex.EnumerateMatches(text))
                    findings.Add(new TextFinding(rule.Plugin, m.Index, m.Length, GuardrailAction.Mask));
                continue;
            }
            // Only the value is the secret: the group's span needs a Match (a string), made once and only when the
            // cheap span test says the rule matches at all.
            if (!rule.Regex.IsMatch(text)) continue;
            whole ??= text.ToString();
            for (var m = rule.Regex.Match(whole); m.Success; m = m.NextMatch())
            {
                var g = m.Groups[rule.Group];
                if (g.Success && g.Length > 0) findings.Add(new TextFinding(rule.Plugin, g.Index, g.Length, GuardrailAction.Mask));
            }
        }
    }

    public string MaskText(in TextFinding finding) => SecretSettings.Redaction;

    public string BlockMessage(in TextFinding finding) => $"Secret detected: {finding.Kind}";

    [GeneratedRegex(@"-----BEGIN[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]{0,4096}?-----END[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----)?", RegexOptions.CultureInvariant)]
    private static partial Regex PrivateKey();
    [GeneratedRegex(@"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b", RegexOptions.CultureInvariant)]
    private static partial Regex AwsAccessKeyId();
    [GeneratedRegex(@"(?i)aws[\w.-]{0,20}?(?:secret|private)[\w.-]{0,20}?[""']?\s*(?:=|:|=>)\s*[""']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", RegexOptions.CultureInvariant)]
    private static partial Regex AwsSecretKey();
    [GeneratedRegex(@"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,120}", RegexOptions.CultureInvariant)]
    private static partial Regex AnthropicKey();
    [GeneratedRegex(@"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}", RegexOptions.CultureInvariant)]
    private static partial Regex OpenAiKey();
    [GeneratedRegex(@"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", RegexOptions.CultureInvariant)]
    private static partial Regex GoogleApiKey();
    [GeneratedRegex(@"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})\b", RegexOptions.CultureInvariant)]
    private static partial Regex GitHubToken();
    [GeneratedRegex(@"\bglpat-[A-Za-z0-9_-]{20}(?![A-Za-z0-9_-])", RegexOptions.CultureInvariant)]
    private static partial Regex GitLabToken();
    [GeneratedRegex(@"\bxox[abposr]-[A-Za-z0-9-]{10,200}", RegexOptions.CultureInvariant)]
    private static partial Regex SlackToken();
    [GeneratedRegex(@"https://hooks\.slack\.com/services/T[A-Za-z0-9_]{1,40}/B[A-Za-z0-9_]{1,40}/[A-Za-z0-9_]{1,100}", RegexOptions.CultureInvariant)]
    private static partial Regex SlackWebhook();
    [GeneratedRegex(@"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,99}\b", RegexOptions.CultureInvariant)]
    private static partial Regex StripeKey();
    [GeneratedRegex(@"\bhf_[A-Za-z0-9]{34,40}\b", RegexOptions.CultureInvariant)]
    private static partial Regex HuggingFaceToken();
    [GeneratedRegex(@"\bnpm_[A-Za-z0-9]{36}\b", RegexOptions.CultureInvariant)]
    private static partial Regex NpmToken();
    [GeneratedRegex(@"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])", RegexOptions.CultureInvariant)]
    private static partial Regex SendGridKey();
    [GeneratedRegex(@"\b(?:AC|SK)[0-9a-f]{32}\b", RegexOptions.CultureInvariant)]
    private static partial Regex TwilioKey();
    [GeneratedRegex(@"\b[0-9a-f]{32}-us\d{1,2}\b", RegexOptions.CultureInvariant)]
    private static partial Regex MailchimpKey();
    [GeneratedRegex(@"\beyJ[A-Za-z0-9_-]{8,700}\.eyJ[A-Za-z0-9_-]{8,700}\.[A-Za-z0-9_-]{8,700}", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();
    [GeneratedRegex(@"\b[a-z][a-z0-9+.-]{1,20}://[^:/?#@\s]{1,100}:([^:/?#@\s]{1,150})@", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex BasicAuth();
    // A value assigned to a name that says it is secret (api_key, secret, token, password, ...), quoted or not; a value
    // with no letter ("max_tokens": 1000) or a literal (true, null) is no secret.
    [GeneratedRegex(@"\b[\w.-]{0,40}(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|auth[_-]?key|credential|private[_-]?key|access[_-]?key)[\w.-]{0,40}[""']?\s{0,5}(?:=|:|=>)\s{0,5}([""']?)(?!(?:true|false|null|none|undefined)\b)((?=[^\s""',;]{0,199}[A-Za-z])[^\s""',;]{4,200})\1", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex KeywordAssignment();
}
