using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.RegularExpressions;

namespace AgenticGateway.Configuration;

/// <summary>What one configured item (a pattern, a word, an entity) does when found: LiteLLM's <c>MASK</c> or <c>BLOCK</c>.</summary>
internal enum GuardrailItemAction
{
    Mask,
    Block,
}

/// <summary>
/// LiteLLM's <c>litellm_content_filter</c> (docs: proxy/guardrails/litellm_content_filter.md): prebuilt patterns by
/// name, custom regex patterns, blocked words (inline and from <c>blocked_words_file</c>), each MASK or BLOCK, and the
/// redaction texts (<c>pattern_redaction_format</c> with <c>{pattern_name}</c>, <c>keyword_redaction_tag</c>).
/// </summary>
internal sealed record ContentFilterSettings : GuardrailSettings
{
    public const string DefaultPatternRedactionFormat = "[{pattern_name}_REDACTED]";
    public const string DefaultKeywordRedactionTag = "[KEYWORD_REDACTED]";

    /// <summary>
    /// The prebuilt pattern names LiteLLM documents and ships (its patterns.json), with our longest match for each. The
    /// detector implements each one (a test checks that every name here has an implementation).
    /// </summary>
    public static readonly FrozenSet<string> PrebuiltNames = new[]
    {
        "us_ssn", "us_ssn_no_dash", "email", "phone", "us_phone", "visa", "mastercard", "amex", "discover", "credit_card",
        "aws_access_key", "aws_secret_key", "github_token", "slack_token", "generic_api_key", "ipv4", "ipv6", "url",
        "passport_us", "passport_uk", "passport_germany", "passport_france", "passport_netherlands", "passport_canada",
        "passport_india", "passport_australia", "passport_china", "passport_japan",
    }.ToFrozenSet(StringComparer.Ordinal);

    public ImmutableArray<ContentFilterPattern> Patterns { get; init; } = [];
    /// <summary>Lower-cased, unique (a later entry wins, as in LiteLLM, where the words are a dictionary).</summary>
    public ImmutableArray<BlockedWord> BlockedWords { get; init; } = [];
    public string PatternRedactionFormat { get; init; } = DefaultPatternRedactionFormat;
    public string KeywordRedactionTag { get; init; } = DefaultKeywordRedactionTag;
}

/// <summary>A prebuilt pattern (<see cref="Prebuilt"/> names it) or a custom regex (<see cref="Custom"/>), named for its redaction tag.</summary>
internal sealed record ContentFilterPattern(string Name, GuardrailItemAction Action)
{
    public string? Prebuilt { get; init; }
    /// <summary>Compiled once when the configuration is read (case-insensitive, as LiteLLM compiles it; linear-time where the pattern allows).</summary>
    public Regex? Custom { get; init; }
}

internal sealed record BlockedWord(string Keyword, GuardrailItemAction Action, string? Description);

/// <summary>Where LiteLLM's presidio guardrail looks (<c>presidio_filter_scope</c>).</summary>
internal enum PiiFilterScope
{
    Both,
    Input,
    Output,
}

/// <summary>
/// LiteLLM's <c>presidio</c> guardrail answered locally (docs: proxy/guardrails/pii_masking_v2.md): which entities
/// (<c>pii_entities_config</c>, Presidio's entity names, MASK or BLOCK each; none listed = every entity we recognise,
/// masked, as Presidio masks everything it finds), score thresholds, the phrase allow list, the scope.
/// </summary>
internal sealed record PresidioSettings : GuardrailSettings
{
    /// <summary>
    /// The Presidio entity names recognised locally: each has a format and, where the format has one, a checksum or
    /// validity rule (Luhn, mod 97, mod 11, check letters). Entities that need a language model (PERSON, LOCATION, NRP,
    /// DATE_TIME, ...) are refused when configured: a silently missed entity would leak what the operator meant to mask.
    /// </summary>
    public static readonly FrozenSet<string> SupportedEntities = new[]
    {
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL", "MAC_ADDRESS",
        "US_SSN", "US_ITIN", "UK_NHS", "UK_NINO", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE", "IN_PAN", "SG_NRIC_FIN",
        "AU_TFN", "AU_ABN", "PL_PESEL", "FI_PERSONAL_IDENTITY_CODE",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Empty: every supported entity, masked.</summary>
    public ImmutableDictionary<string, GuardrailItemAction> Entities { get; init; } = ImmutableDictionary<string, GuardrailItemAction>.Empty;
    /// <summary><c>presidio_score_thresholds</c> by entity; <c>ALL</c> is kept under that key.</summary>
    public ImmutableDictionary<string, double> ScoreThresholds { get; init; } = ImmutableDictionary<string, double>.Empty;
    public string Language { get; init; } = "en";
    public PiiFilterScope FilterScope { get; init; } = PiiFilterScope.Both;
    /// <summary>Matched texts that are never findings (LiteLLM: case-insensitive exact matches).</summary>
    public ImmutableArray<string> PhraseAllowList { get; init; } = [];
    /// <summary>LiteLLM's <c>presidio_skip_system_developer_message</c>: system and developer messages are not scanned.</summary>
    public bool SkipSystemDeveloperMessage { get; init; }
    /// <summary>LiteLLM's <c>output_parse_pii</c>: masked tokens in the answer are put back to the caller's originals.</summary>
    public bool OutputParsePii { get; init; }
}

/// <summary>
/// LiteLLM's <c>hide-secrets</c> guardrail and <c>hide_secrets</c> callback (docs: proxy/guardrails/secret_detection.md),
/// answered locally with gitleaks-class rules; <c>detect_secrets_config.plugins_used</c> narrows the rules by
/// detect-secrets' plugin names.
/// </summary>
internal sealed record SecretSettings : GuardrailSettings
{
    /// <summary>LiteLLM's redaction text.</summary>
    public const string Redaction = "[REDACTED]";

    /// <summary>The detect-secrets plugin names answered locally (LiteLLM's default list names many more vendors; those are refused when listed).</summary>
    public static readonly FrozenSet<string> SupportedPlugins = new[]
    {
        "AWSKeyDetector", "PrivateKeyDetector", "JwtTokenDetector", "JWTBase64Detector", "OpenAIApiKeyDetector", "AnthropicApiKeyDetector",
        "GCPApiKeyDetector", "GitHubTokenCustomDetector", "GitLabDetector", "SlackDetector", "StripeDetector", "BasicAuthDetector",
        "KeywordDetector", "HuggingFaceDetector", "NpmDetector", "SendGridApiTokenDetector", "TwilioKeyDetector",
        "MailchimpDetector",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Empty: every supported rule.</summary>
    public ImmutableArray<string> Plugins { get; init; } = [];
}

/// <summary>
/// LiteLLM's <c>detect_prompt_injection</c> (callback with <c>prompt_injection_params</c>, docs:
/// proxy/guardrails/prompt_injection.md). The heuristics run locally; <c>llm_api_check</c> is the LLM judge, run by the
/// remote guardrail types through a model group of this gateway.
/// </summary>
internal sealed record PromptInjectionSettings : GuardrailSettings
{
    /// <summary>LiteLLM's rejection text.</summary>
    public const string RejectionMessage = "Rejected message. This is a prompt injection attack.";

    public bool HeuristicsCheck { get; init; } = true;
    /// <summary>LiteLLM compares with a list of known attacks; locally the same heuristics answer it.</summary>
    public bool SimilarityCheck { get; init; }
    public bool LlmApiCheck { get; init; }
    public string? LlmApiName { get; init; }
    public string? LlmApiSystemPrompt { get; init; }
    public string? LlmApiFailCallString { get; init; }
}

/// <summary>
/// An entry of LiteLLM's older <c>litellm_settings.guardrails</c> list: one name turning several callbacks on or off
/// together. Each member is a full definition of its callback's type (named after the callback).
/// </summary>
internal sealed record GuardrailGroupSettings(ImmutableArray<GuardrailDefinition> Members) : GuardrailSettings
{
    /// <summary>The <see cref="GuardrailDefinition.Type"/> of such a group.</summary>
    public const string TypeName = "callback_group";

    /// <summary>LiteLLM's <c>enabled_roles</c>: the message roles the callbacks look at (empty: all).</summary>
    public ImmutableArray<string> EnabledRoles { get; init; } = [];
}
