using System.Text.RegularExpressions;

namespace AgenticGateway.Safety;

/// <summary>
/// Finds the marks of prompt injection in text a model will read as instructions: a tool's description (tool
/// poisoning), and later guardrails' inputs. Patterns, not a classifier: each names a technique seen in published
/// tool-poisoning attacks (hidden instruction blocks, orders to ignore earlier instructions or keep things from the
/// user, reads of credential files, exfiltration through another tool's arguments). A hit is reason to hold a tool for
/// an admin to look at, not proof.
/// </summary>
internal static partial class InjectionScanner
{
    private static readonly (Regex Pattern, string Reason)[] Rules =
    [
        (IgnorePrevious(), "tells the model to ignore or override its instructions"),
        (HiddenBlock(), "contains an instruction block addressed to the model (<IMPORTANT>, <system>, [INST]...)"),
        (KeepSecret(), "tells the model to hide something from the user"),
        (SecretFiles(), "mentions credential files (~/.ssh, .env, id_rsa, ~/.aws, mcp.json...)"),
        (Exfiltrate(), "tells the model to send data elsewhere or to pass it in another tool's arguments"),
        (InvisibleCharacters(), "contains invisible or bidirectional-control characters"),
    ];

    /// <summary>
    /// The rules a guardrail applies to what users and tools send a model (LiteLLM's <c>detect_prompt_injection</c>
    /// heuristics: an order to ignore or override earlier instructions, in its many wordings; role and instruction
    /// markers; a request to reveal the system prompt; a jailbreak persona), each with the kind it reports.
    /// Mentions of credential files and exfiltration wording are left to the tool-description scan: users ask about them.
    /// </summary>
    private static readonly (Regex Pattern, string Kind)[] PromptRules =
    [
        (IgnorePrevious(), "ignore_instructions"),
        (OverrideInstructions(), "ignore_instructions"),
        (HiddenBlock(), "instruction_markers"),
        (RevealPrompt(), "reveal_system_prompt"),
        (Persona(), "jailbreak_persona"),
        (InvisibleCharacters(), "invisible_characters"),
    ];

    /// <summary>The longest text one <see cref="PromptRules"/> match can span.</summary>
    public const int PromptMatchReach = 200;

    /// <summary>Adds each injection technique found in <paramref name="text"/> (a prompt) with where it is.</summary>
    public static void FindInPrompt(ReadOnlySpan<char> text, List<Guardrails.TextFinding> findings)
    {
        foreach (var (pattern, kind) in PromptRules)
        {
            try
            {
                foreach (var m in pattern.EnumerateMatches(text))
                    findings.Add(new Guardrails.TextFinding(kind, m.Index, m.Length, Guardrails.GuardrailAction.Block));
            }
            catch (RegexMatchTimeoutException)
            {
                findings.Add(new Guardrails.TextFinding("scan_timeout", 0, text.Length, Guardrails.GuardrailAction.Block));
            }
        }
    }

    /// <summary>The reasons the text looks like an injection, empty when it does not.</summary>
    public static IReadOnlyList<string> Scan(string? text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        List<string>? found = null;
        foreach (var (pattern, reason) in Rules)
        {
            try
            {
                if (pattern.IsMatch(text)) (found ??= []).Add(reason);
            }
            catch (RegexMatchTimeoutException)
            {
                // Text built to make a pattern slow is itself suspect.
                (found ??= []).Add("could not be scanned in time");
            }
        }
        return found ?? (IReadOnlyList<string>)[];
    }

    [GeneratedRegex(@"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|other|system)\b.{0,20}\b(instructions?|prompts?|rules|directions)\b", RegexOptions.IgnoreCase | RegexOptions.Singleline, 100)]
    private static partial Regex IgnorePrevious();

    // LiteLLM's heuristics combine verbs, adjectives, prepositions and objects ("disregard the preceding directives",
    // "pay no attention to prior content"); this is that family, bounded so each match's reach is known.
    [GeneratedRegex(@"\b(?:ignore|disregard|skip|forget|neglect|overlook|omit|bypass|pay no attention to|do not follow|do not obey|don't follow|stop following)\b[\s\w,]{0,30}?\b(?:prior|previous|preceding|above|foregoing|earlier|initial|original|all)\b[\s\w]{0,20}?\b(?:content|text|instructions?|directives?|commands?|context|conversation|inputs?|messages?|prompts?|guidelines|rules|orders)\b", RegexOptions.IgnoreCase, 100)]
    private static partial Regex OverrideInstructions();

    [GeneratedRegex(@"\b(?:reveal|print|show|repeat|output|display|tell me|leak)\b[\s\w]{0,30}?\b(?:system prompt|initial (?:prompt|instructions)|hidden (?:prompt|instructions)|developer (?:message|prompt)|your instructions)\b", RegexOptions.IgnoreCase, 100)]
    private static partial Regex RevealPrompt();

    [GeneratedRegex(@"\b(?:you are now|act as|pretend (?:to be|you are)|from now on you are|enter|switch to)\b[\s\w""'-]{0,30}?\b(?:DAN|jailbroken|jailbreak|unfiltered|uncensored|developer mode|without (?:any )?(?:restrictions|rules|filters|limits))\b", RegexOptions.IgnoreCase, 100)]
    private static partial Regex Persona();

    [GeneratedRegex(@"<\s*/?\s*(important|system|instructions?|secret|hidden)\s*>|\[/?INST\]|<\|im_start\|>", RegexOptions.IgnoreCase, 100)]
    private static partial Regex HiddenBlock();

    [GeneratedRegex(@"\b(do not|don't|never)\b.{0,30}\b(tell|mention|inform|reveal|show|notify)\b.{0,30}\b(the )?user\b", RegexOptions.IgnoreCase | RegexOptions.Singleline, 100)]
    private static partial Regex KeepSecret();

    [GeneratedRegex(@"~/\.ssh|\bid_(rsa|ed25519|ecdsa)\b|~/\.aws|\.aws/credentials|(^|[\s/'""`])\.env\b|mcp\.json|\.netrc|/etc/(passwd|shadow)", RegexOptions.IgnoreCase, 100)]
    private static partial Regex SecretFiles();

    [GeneratedRegex(@"\b(send|post|upload|forward|exfiltrate|leak)\b.{0,40}\b(to|into)\b.{0,20}(https?://|\bwebhook\b|\bemail\b)|\bpass\b.{0,30}\b(as|in|into)\b.{0,20}\b(the )?[a-z_]+ (parameter|argument|field)\b.{0,40}\b(content|contents|key|token|secret|password)", RegexOptions.IgnoreCase | RegexOptions.Singleline, 100)]
    private static partial Regex Exfiltrate();

    [GeneratedRegex("[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|\uDB40[\uDC00-\uDC7F]", RegexOptions.None, 100)]
    private static partial Regex InvisibleCharacters();
}
