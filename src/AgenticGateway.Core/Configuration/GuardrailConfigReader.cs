using System.Collections.Immutable;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// Reads guardrails in LiteLLM's shapes (docs: proxy/guardrails/quick_start.md and each type's page; its
/// litellm/types/guardrails.py): the top-level <c>guardrails:</c> list, the older <c>litellm_settings.guardrails</c>
/// list of <c>{name: {callbacks, default_on, logging_only, enabled_roles}}</c>, the guardrail callbacks in
/// <c>litellm_settings.callbacks</c> (<c>hide_secrets</c>, <c>detect_prompt_injection</c> with
/// <c>prompt_injection_params</c>, <c>presidio</c>) and <c>enable_json_schema_validation</c>. Our schema has the same
/// <c>guardrails:</c> list, read strictly, and <c>guardrail_settings:</c> for what LiteLLM has no key for.
/// </summary>
internal static class GuardrailConfigReader
{
    /// <summary>Types LiteLLM sends to a vendor's service; not offered here (each would be a request leaving unchecked).</summary>
    private static readonly HashSet<string> RemoteVendorTypes = new(StringComparer.Ordinal)
    {
        "aporia", "bedrock", "guardrails_ai", "lakera", "lakera_v2", "aim", "pangea", "lasso", "pillar", "panw_prisma_airs",
        "azure/prompt_shield", "azure/text_moderations", "model_armor", "noma", "zscaler_ai_guard", "javelin", "enkryptai",
        "ibm_guardrails", "grayswan", "hiddenlayer", "akto", "qualifire", "dynamoai", "onyx", "prompt_security", "promptguard",
        "pointguardai", "acuvity", "aegis", "guardrails", "mcp", "custom_code", "tool_permission", "litellm_pii",
    };

    /// <summary>Older callbacks that are guardrails but call a remote service (still refused).</summary>
    private static readonly HashSet<string> RemoteCallbacks = new(StringComparer.Ordinal)
    {
        "lakera_prompt_injection", "llmguard_moderations", "llamaguard_moderations", "google_text_moderation", "openai_moderations",
    };

    private const string NotOffered = "use one of the local types (litellm_content_filter, presidio, hide-secrets, detect_prompt_injection) or generic_guardrail_api in front of the vendor's service";

    /// <summary>A LiteLLM file: the top-level list plus what litellm_settings says.</summary>
    public static GuardrailOptions ReadLiteLlm(ConfigMap root, ConfigMap? litellmSettings)
    {
        var list = new List<GuardrailDefinition>();
        ReadList(root, "guardrails", strict: false, list);
        var jsonSchema = false;
        if (litellmSettings is { } ls)
        {
            var injectionParams = ls.Map("prompt_injection_params");
            ReadOlderList(ls, injectionParams, list);
            ReadCallbacks(ls, injectionParams, list);
            injectionParams?.ReportUnknownKeys(strict: false);
            jsonSchema = ls.Bool("enable_json_schema_validation") ?? false;
        }
        CheckUniqueNames(root.Context.Issues, list);
        return new GuardrailOptions { Guardrails = [.. list], JsonSchemaValidation = jsonSchema };
    }

    /// <summary>Our schema: <c>guardrails:</c> (LiteLLM's list) and <c>guardrail_settings: {dry_run, json_schema_validation}</c>.</summary>
    public static GuardrailOptions ReadOwn(ConfigMap root)
    {
        var list = new List<GuardrailDefinition>();
        ReadList(root, "guardrails", strict: true, list);
        CheckUniqueNames(root.Context.Issues, list);
        var options = new GuardrailOptions { Guardrails = [.. list] };
        if (root.Map("guardrail_settings") is { } gs)
        {
            options = options with
            {
                DryRun = gs.Bool("dry_run") ?? false,
                JsonSchemaValidation = gs.Bool("json_schema_validation") ?? false,
            };
            gs.ReportUnknownKeys(strict: true);
        }
        return options;
    }

    private static void CheckUniqueNames(ConfigIssues issues, List<GuardrailDefinition> list)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in list)
            if (!seen.Add(g.Name)) issues.Error("guardrails", $"the guardrail name '{g.Name}' is used twice; names select guardrails per key, team and request, so each must be unique");
    }

    private static void ReadList(ConfigMap root, string key, bool strict, List<GuardrailDefinition> list)
    {
        foreach (var (node, path) in root.Sequence(key))
        {
            var entry = root.AsMap(node, path);
            if (entry is null) continue;
            if (ReadEntry(entry, strict) is { } definition) list.Add(definition);
        }
    }

    private static GuardrailDefinition? ReadEntry(ConfigMap entry, bool strict)
    {
        var issues = entry.Context.Issues;
        var name = entry.String("guardrail_name");
        if (string.IsNullOrWhiteSpace(name)) issues.Error(entry.Child("guardrail_name"), "a guardrail needs a guardrail_name");
        string? info = null;
        if (entry.RawNode("guardrail_info") is { } infoNode)
        {
            if (infoNode is YamlMappingNode) info = YamlJson.ToJson(infoNode, entry.Child("guardrail_info"), entry.Context);
            else issues.Error(entry.Child("guardrail_info"), "expected a mapping");
        }
        // LiteLLM's database-only fields, accepted when a list is copied from /guardrails/list.
        entry.MarkRead("guardrail_id");
        var p = entry.Map("litellm_params");
        entry.ReportUnknownKeys(strict);
        if (p is null)
        {
            issues.Error(entry.Child("litellm_params"), "a guardrail needs litellm_params with guardrail and mode");
            return null;
        }
        var type = p.String("guardrail");
        if (string.IsNullOrWhiteSpace(type))
        {
            issues.Error(p.Child("guardrail"), "the guardrail type is required (such as litellm_content_filter, presidio, hide-secrets)");
            return null;
        }
        var modes = ReadModes(p, "mode", required: true);
        var defaultOn = p.Bool("default_on") ?? false;
        var dryRun = p.Bool("dry_run") ?? false;
        var settings = ReadSettings(type, p);
        // A refused type's own keys say nothing more than the refusal.
        if (settings is null) return null;
        p.ReportUnknownKeys(strict);
        if (name is null || modes.IsDefault) return null;
        return new GuardrailDefinition { Name = name, Type = type, Modes = modes, DefaultOn = defaultOn, DryRun = dryRun, Settings = settings, InfoJson = info };
    }

    /// <summary>
    /// The type's own settings: the dispatch point. Remote types' readers (guard-tools: generic_guardrail_api,
    /// openai_moderation) add their case here.
    /// </summary>
    private static GuardrailSettings? ReadSettings(string type, ConfigMap p)
    {
        switch (type)
        {
            case "litellm_content_filter": return ReadContentFilter(p);
            case "presidio": return ReadPresidio(p);
            case "hide-secrets" or "hide_secrets": return ReadSecrets(p);
            case "detect_prompt_injection": return ReadPromptInjection(p);
            case GenericGuardrailApiSettings.TypeName: return GenericGuardrailApiSettings.Read(p);
            case OpenAiModerationSettings.TypeName: return OpenAiModerationSettings.Read(p);
        }
        if (RemoteVendorTypes.Contains(type))
            p.Context.Issues.Unsupported(p.Child("guardrail"), $"the '{type}' guardrail", NotOffered);
        else if (type.Contains('.', StringComparison.Ordinal))
            p.Context.Issues.Unsupported(p.Child("guardrail"), $"the custom guardrail class '{type}' (Python code)", NotOffered);
        else
            p.Context.Issues.Error(p.Child("guardrail"), $"unknown guardrail type '{type}'; the local types are litellm_content_filter, presidio, hide-secrets and detect_prompt_injection, the remote ones generic_guardrail_api and openai_moderation");
        return null;
    }

    /// <summary>LiteLLM's <c>mode</c>: a name, a list of names, or <c>{default, tags}</c> (tags are refused: user-agent-dependent checks are not offered).</summary>
    internal static ImmutableArray<GuardrailMode> ReadModes(ConfigMap p, string key, bool required)
    {
        var path = p.Child(key);
        var node = p.RawNode(key);
        if (node is null || node is YamlScalarNode { Value: null or "" })
        {
            if (required) p.Context.Issues.Error(path, "mode is required: pre_call, during_call, post_call, logging_only, pre_mcp_call, during_mcp_call (or a list of them)");
            return default;
        }
        var names = new List<(string Name, string Path)>();
        switch (node)
        {
            case YamlScalarNode:
                if (p.String(key) is { } one) names.Add((one, path));
                break;
            case YamlSequenceNode:
                foreach (var (item, itemPath) in p.Sequence(key))
                    if (p.ScalarText(item, itemPath) is { } text) names.Add((text, itemPath));
                break;
            case YamlMappingNode:
                var m = p.Map(key)!;
                if (m.Has("tags") && m.RawNode("tags") is YamlMappingNode { Children.Count: > 0 })
                    m.Context.Issues.Unsupported(m.Child("tags"), "guardrail modes chosen by request tags or headers", "give each guardrail one mode, or define two guardrails and select them per key or team");
                if (m.String("default") is { } d) names.Add((d, m.Child("default")));
                else m.Context.Issues.Error(m.Child("default"), "a mode map needs a default mode");
                m.ReportUnknownKeys(strict: true);
                break;
        }
        var builder = ImmutableArray.CreateBuilder<GuardrailMode>();
        var bad = false;
        foreach (var (name, itemPath) in names)
        {
            GuardrailMode? mode = name switch
            {
                "pre_call" => GuardrailMode.PreCall,
                "during_call" => GuardrailMode.DuringCall,
                "post_call" => GuardrailMode.PostCall,
                "logging_only" => GuardrailMode.LoggingOnly,
                "pre_mcp_call" => GuardrailMode.PreMcpCall,
                "during_mcp_call" => GuardrailMode.DuringMcpCall,
                "post_mcp_call" => GuardrailMode.PostMcpCall,
                "sandbox_output" => GuardrailMode.SandboxOutput,
                _ => null,
            };
            if (mode is null)
            {
                p.Context.Issues.Error(itemPath, $"unknown mode '{name}'; expected pre_call, during_call, post_call, logging_only, pre_mcp_call, during_mcp_call, post_mcp_call or sandbox_output");
                bad = true;
            }
            else if (!builder.Contains(mode.Value)) builder.Add(mode.Value);
        }
        if (bad) return default;
        if (builder.Count == 0)
        {
            p.Context.Issues.Error(path, "at least one mode is required");
            return default;
        }
        return builder.ToImmutable();
    }

    private static GuardrailItemAction? ReadAction(ConfigMap m, string key, GuardrailItemAction? fallback)
    {
        var text = m.String(key);
        if (text is null)
        {
            if (fallback is null) m.Context.Issues.Error(m.Child(key), "an action is required: MASK or BLOCK");
            return fallback;
        }
        return ParseAction(text, m.Child(key), m.Context.Issues);
    }

    private static GuardrailItemAction? ParseAction(string text, string path, ConfigIssues issues)
    {
        // LiteLLM's enums are upper case; the lower-case spelling is accepted as its UI writes both.
        if (text.Equals("MASK", StringComparison.OrdinalIgnoreCase)) return GuardrailItemAction.Mask;
        if (text.Equals("BLOCK", StringComparison.OrdinalIgnoreCase)) return GuardrailItemAction.Block;
        issues.Error(path, $"unknown action '{text}'; expected MASK or BLOCK");
        return null;
    }

    private const int MaxCustomPatternLength = 2000;

    private static ContentFilterSettings ReadContentFilter(ConfigMap p)
    {
        var issues = p.Context.Issues;
        var patterns = ImmutableArray.CreateBuilder<ContentFilterPattern>();
        foreach (var (node, path) in p.Sequence("patterns"))
        {
            var m = p.AsMap(node, path);
            if (m is null) continue;
            var kind = m.String("pattern_type") ?? "prebuilt";
            var action = ReadAction(m, "action", GuardrailItemAction.Block);
            if (kind == "prebuilt")
            {
                var prebuilt = m.String("pattern_name");
                if (prebuilt is null) issues.Error(m.Child("pattern_name"), "pattern_name is required for prebuilt patterns");
                else if (!ContentFilterSettings.PrebuiltNames.Contains(prebuilt))
                    issues.Error(m.Child("pattern_name"), $"unknown prebuilt pattern '{prebuilt}'; known: {string.Join(", ", ContentFilterSettings.PrebuiltNames.Order(StringComparer.Ordinal))}");
                else if (action is { } a) patterns.Add(new ContentFilterPattern(m.String("name") ?? prebuilt, a) { Prebuilt = prebuilt });
            }
            else if (kind == "regex")
            {
                var text = m.String("pattern");
                var name = m.String("name") ?? "custom_regex";
                if (string.IsNullOrEmpty(text)) issues.Error(m.Child("pattern"), "pattern is required for regex patterns");
                else if (CompileCustom(text, m.Child("pattern"), issues) is { } regex && action is { } a) patterns.Add(new ContentFilterPattern(name, a) { Custom = regex });
            }
            else issues.Error(m.Child("pattern_type"), $"unknown pattern_type '{kind}'; expected prebuilt or regex");
            m.MarkRead("description");
            m.ReportUnknownKeys(strict: false);
        }

        var words = new Dictionary<string, BlockedWord>(StringComparer.Ordinal);
        ReadBlockedWords(p, "blocked_words", words);
        if (p.String("blocked_words_file") is { Length: > 0 } file) ReadBlockedWordsFile(file, p.Child("blocked_words_file"), p.Context, words);
        if (p.Has("categories") && p.Sequence("categories").Count > 0)
            p.Context.Issues.Unsupported(p.Child("categories"), "content categories (LiteLLM's harmful_* keyword and phrase lists)", "list the words and phrases as blocked_words (or a blocked_words_file), or custom regex patterns");

        var format = p.String("pattern_redaction_format") ?? ContentFilterSettings.DefaultPatternRedactionFormat;
        if (!format.Contains("{pattern_name}", StringComparison.Ordinal))
            issues.Error(p.Child("pattern_redaction_format"), "pattern_redaction_format must contain {pattern_name}");
        var settings = new ContentFilterSettings
        {
            Patterns = patterns.ToImmutable(),
            BlockedWords = [.. words.Values],
            PatternRedactionFormat = format,
            KeywordRedactionTag = p.String("keyword_redaction_tag") ?? ContentFilterSettings.DefaultKeywordRedactionTag,
        };
        if (settings.Patterns.IsEmpty && settings.BlockedWords.IsEmpty)
            p.Context.Issues.Warning(p.Path, "this content filter has no patterns and no blocked words: it finds nothing");
        return settings;
    }

    /// <summary>
    /// A pattern written for Python's <c>re</c> (LiteLLM compiles it with IGNORECASE). Named groups are rewritten to .NET's
    /// spelling; the linear-time engine is used when the pattern allows it, otherwise a match timeout bounds it.
    /// </summary>
    internal static Regex? CompileCustom(string pattern, string path, ConfigIssues issues)
    {
        if (pattern.Length > MaxCustomPatternLength)
        {
            issues.Error(path, $"a pattern may be at most {MaxCustomPatternLength} characters");
            return null;
        }
        var dotnet = pattern.Replace("(?P<", "(?<", StringComparison.Ordinal);
        dotnet = Regex.Replace(dotnet, @"\(\?P=(\w+)\)", @"\k<$1>");
        const RegexOptions options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;
        try
        {
            return new Regex(dotnet, options | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            // Lookarounds and backreferences need the backtracking engine; the timeout keeps a bad pattern from stalling a request.
            try { return new Regex(dotnet, options, TimeSpan.FromMilliseconds(50)); }
            catch (ArgumentException e) { issues.Error(path, $"not a valid regular expression: {e.Message}"); return null; }
        }
        catch (ArgumentException e)
        {
            issues.Error(path, $"not a valid regular expression: {e.Message}");
            return null;
        }
    }

    private static void ReadBlockedWords(ConfigMap p, string key, Dictionary<string, BlockedWord> words)
    {
        foreach (var (node, path) in p.Sequence(key))
        {
            var m = p.AsMap(node, path);
            if (m is null) continue;
            var keyword = m.String("keyword");
            var action = ReadAction(m, "action", null);
            var description = m.String("description");
            m.ReportUnknownKeys(strict: false);
            if (string.IsNullOrEmpty(keyword)) { m.Context.Issues.Error(m.Child("keyword"), "a blocked word needs a keyword"); continue; }
            if (action is { } a) words[keyword.ToLowerInvariant()] = new BlockedWord(keyword.ToLowerInvariant(), a, description);
        }
    }

    private const long MaxWordsFileBytes = 16 * 1024 * 1024;

    private static void ReadBlockedWordsFile(string file, string path, ConfigContext context, Dictionary<string, BlockedWord> words)
    {
        YamlStream yaml;
        try
        {
            var info = new FileInfo(file);
            if (!info.Exists) { context.Issues.Error(path, $"the blocked words file '{file}' does not exist"); return; }
            if (info.Length > MaxWordsFileBytes) { context.Issues.Error(path, $"the blocked words file is larger than {MaxWordsFileBytes / 1024 / 1024} MB"); return; }
            using var reader = new StreamReader(file);
            yaml = new YamlStream();
            yaml.Load(reader);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
        {
            context.Issues.Error(path, $"the blocked words file '{file}' cannot be read: {e.Message}");
            return;
        }
        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
        {
            context.Issues.Error(path, "the blocked words file must be a mapping with a blocked_words list");
            return;
        }
        var map = new ConfigMap(root, $"{file}", context);
        if (!map.Has("blocked_words")) { context.Issues.Error(path, "the blocked words file has no blocked_words list"); return; }
        ReadBlockedWords(map, "blocked_words", words);
    }

    private static PresidioSettings ReadPresidio(ConfigMap p)
    {
        var issues = p.Context.Issues;
        var entities = ImmutableDictionary.CreateBuilder<string, GuardrailItemAction>(StringComparer.Ordinal);
        if (p.Map("pii_entities_config") is { } config)
        {
            foreach (var entity in config.Keys.ToList())
            {
                var action = config.String(entity) is { } text ? ParseAction(text, config.Child(entity), issues) : null;
                if (!PresidioSettings.SupportedEntities.Contains(entity))
                {
                    issues.Unsupported(config.Child(entity), $"the Presidio entity '{entity}'",
                        $"it is recognised only by a language model, which the local recognisers do not run; the local entities are {string.Join(", ", PresidioSettings.SupportedEntities.Order(StringComparer.Ordinal))}");
                    continue;
                }
                if (action is { } a) entities[entity] = a;
            }
        }
        var thresholds = ImmutableDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        if (p.Map("presidio_score_thresholds") is { } t)
        {
            foreach (var entity in t.Keys.ToList())
            {
                if (t.Double(entity, 0) is not { } value) continue;
                if (value > 1) { issues.Error(t.Child(entity), "a score threshold is between 0 and 1"); continue; }
                thresholds[entity] = value;
            }
        }
        var scope = p.String("presidio_filter_scope") switch
        {
            null or "both" => PiiFilterScope.Both,
            "input" => PiiFilterScope.Input,
            "output" => PiiFilterScope.Output,
            var other => Bad(other),
        };
        PiiFilterScope Bad(string other)
        {
            issues.Error(p.Child("presidio_filter_scope"), $"unknown scope '{other}'; expected input, output or both");
            return PiiFilterScope.Both;
        }
        if (p.Has("presidio_ad_hoc_recognizers") && p.String("presidio_ad_hoc_recognizers") is { Length: > 0 })
            issues.Unsupported(p.Child("presidio_ad_hoc_recognizers"), "Presidio ad-hoc recognizers", "use a litellm_content_filter guardrail with custom regex patterns for your own identifiers");
        // The Presidio servers are not called: the recognisers run in the gateway.
        foreach (var remote in new[] { "presidio_analyzer_api_base", "presidio_anonymizer_api_base", "api_base", "api_key", "mock_redacted_text" })
            if (p.Has(remote)) issues.Warning(p.Child(remote), "not used: the presidio guardrail is answered by the gateway's own recognisers, no Presidio server is called");
        return new PresidioSettings
        {
            Entities = entities.ToImmutable(),
            ScoreThresholds = thresholds.ToImmutable(),
            Language = p.String("presidio_language") ?? "en",
            FilterScope = scope,
            PhraseAllowList = p.StringList("presidio_phrase_allow_list"),
            SkipSystemDeveloperMessage = p.Bool("presidio_skip_system_developer_message") ?? false,
            OutputParsePii = p.Bool("output_parse_pii") ?? false,
        };
    }

    private static SecretSettings ReadSecrets(ConfigMap p)
    {
        var plugins = ImmutableArray.CreateBuilder<string>();
        if (p.Map("detect_secrets_config") is { } config)
        {
            foreach (var (node, path) in config.Sequence("plugins_used"))
            {
                var m = config.AsMap(node, path);
                if (m is null) continue;
                var name = m.String("name");
                m.MarkRead("path");
                m.ReportUnknownKeys(strict: false);
                if (name is null) { m.Context.Issues.Error(m.Child("name"), "a plugin needs a name"); continue; }
                if (SecretSettings.SupportedPlugins.Contains(name)) plugins.Add(name);
                else m.Context.Issues.Warning(m.Child("name"), $"the detect-secrets plugin '{name}' has no local rule and is skipped; local rules: {string.Join(", ", SecretSettings.SupportedPlugins.Order(StringComparer.Ordinal))}");
            }
            config.ReportUnknownKeys(strict: false);
            if (plugins.Count == 0)
                p.Context.Issues.Error(p.Child("detect_secrets_config"), "none of the listed plugins has a local rule, so this guardrail would find nothing");
        }
        return new SecretSettings { Plugins = plugins.ToImmutable() };
    }

    private static PromptInjectionSettings ReadPromptInjection(ConfigMap p)
    {
        var settings = new PromptInjectionSettings
        {
            HeuristicsCheck = p.Bool("heuristics_check") ?? true,
            SimilarityCheck = p.Bool("similarity_check") ?? false,
            LlmApiCheck = p.Bool("llm_api_check") ?? false,
            LlmApiName = p.String("llm_api_name"),
            LlmApiSystemPrompt = p.String("llm_api_system_prompt"),
            LlmApiFailCallString = p.String("llm_api_fail_call_string"),
        };
        if (p.Has("vector_db_check") && p.Bool("vector_db_check") == true)
            p.Context.Issues.Unsupported(p.Child("vector_db_check"), "the vector database check", "use heuristics_check or llm_api_check");
        if (settings.LlmApiCheck && string.IsNullOrEmpty(settings.LlmApiName))
            p.Context.Issues.Error(p.Child("llm_api_name"), "llm_api_check needs llm_api_name: the model_name that judges the prompt");
        if (!settings.HeuristicsCheck && !settings.SimilarityCheck && !settings.LlmApiCheck)
            p.Context.Issues.Error(p.Path, "every check is off (heuristics_check, similarity_check, llm_api_check): this guardrail would find nothing");
        return settings;
    }

    /// <summary>The older <c>litellm_settings.guardrails</c>: <c>- name: {callbacks: [...], default_on, logging_only, enabled_roles, callback_args}</c>.</summary>
    private static void ReadOlderList(ConfigMap ls, ConfigMap? injectionParams, List<GuardrailDefinition> list)
    {
        foreach (var (node, path) in ls.Sequence("guardrails"))
        {
            var item = ls.AsMap(node, path);
            if (item is null) continue;
            foreach (var name in item.Keys.ToList())
            {
                var spec = item.Map(name);
                if (spec is null) { ls.Context.Issues.Error(item.Child(name), "expected a mapping with callbacks"); continue; }
                var callbacks = spec.StringList("callbacks");
                if (callbacks.IsEmpty) spec.Context.Issues.Error(spec.Child("callbacks"), "a guardrail needs at least one callback");
                var logging = spec.Bool("logging_only") ?? false;
                var modes = logging ? ImmutableArray.Create(GuardrailMode.LoggingOnly) : ImmutableArray.Create(GuardrailMode.PreCall);
                var args = spec.Map("callback_args");
                var members = ImmutableArray.CreateBuilder<GuardrailDefinition>();
                foreach (var callback in callbacks)
                {
                    var own = args?.Map(callback);
                    if (CallbackSettings(callback, spec.Child("callbacks"), own ?? (callback == "detect_prompt_injection" ? injectionParams : null), spec.Context) is { } settings)
                        members.Add(new GuardrailDefinition { Name = callback, Type = CallbackType(callback), Modes = modes, DefaultOn = true, Settings = settings });
                    own?.ReportUnknownKeys(strict: false);
                }
                var roles = spec.StringList("enabled_roles");
                foreach (var role in roles)
                    if (role is not ("system" or "assistant" or "user")) spec.Context.Issues.Error(spec.Child("enabled_roles"), $"unknown role '{role}'; expected system, assistant or user");
                var defaultOn = spec.Bool("default_on") ?? false;
                spec.ReportUnknownKeys(strict: false);
                if (members.Count == callbacks.Length && members.Count > 0)
                    list.Add(new GuardrailDefinition
                    {
                        Name = name, Type = GuardrailGroupSettings.TypeName, Modes = modes, DefaultOn = defaultOn,
                        Settings = new GuardrailGroupSettings(members.ToImmutable()) { EnabledRoles = roles },
                    });
            }
        }
    }

    /// <summary>litellm_settings.callbacks naming guardrails: each runs on every request before the call, as in LiteLLM.</summary>
    private static void ReadCallbacks(ConfigMap ls, ConfigMap? injectionParams, List<GuardrailDefinition> list)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in new[] { "callbacks", "success_callback", "failure_callback" })
        {
            if (ls.Peek(key) is not YamlSequenceNode seq) continue;
            foreach (var name in seq.Children.OfType<YamlScalarNode>().Select(n => n.Value ?? ""))
            {
                if (!IsGuardrailCallback(name) || !seen.Add(name)) continue;
                if (CallbackSettings(name, ls.Child(key), name == "detect_prompt_injection" ? injectionParams : null, ls.Context) is { } settings)
                    list.Add(new GuardrailDefinition { Name = name, Type = CallbackType(name), Modes = [GuardrailMode.PreCall], DefaultOn = true, Settings = settings });
            }
        }
        if (injectionParams is not null && !seen.Contains("detect_prompt_injection") && !ls.Has("guardrails"))
            ls.Context.Issues.Warning(injectionParams.Path, "ignored: no callback is detect_prompt_injection");
    }

    /// <summary>The callbacks in litellm_settings that are guardrails (local or refused).</summary>
    public static bool IsGuardrailCallback(string name) =>
        name is "hide_secrets" or "detect_prompt_injection" or "presidio" || RemoteCallbacks.Contains(name);

    private static string CallbackType(string callback) => callback switch
    {
        "hide_secrets" => "hide-secrets",
        _ => callback,
    };

    private static GuardrailSettings? CallbackSettings(string callback, string path, ConfigMap? parameters, ConfigContext context)
    {
        switch (callback)
        {
            case "hide_secrets": return new SecretSettings();
            case "presidio": return new PresidioSettings();
            case "detect_prompt_injection": return parameters is null ? new PromptInjectionSettings() : ReadPromptInjection(parameters);
        }
        if (RemoteCallbacks.Contains(callback))
            context.Issues.Unsupported(path, $"the guardrail callback '{callback}' (a remote service)", NotOffered);
        else
            context.Issues.Error(path, $"unknown guardrail callback '{callback}'; the local ones are hide_secrets, detect_prompt_injection and presidio");
        return null;
    }
}
