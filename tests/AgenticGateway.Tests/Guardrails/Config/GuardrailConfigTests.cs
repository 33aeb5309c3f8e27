using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Guardrails.Config;

/// <summary>
/// Every guardrail configuration shape LiteLLM documents, loaded through the real config loader: the examples are
/// LiteLLM's own (docs/my-website/docs/proxy/guardrails/*.md and prompt_injection.md, litellm/types/guardrails.py),
/// with the model list around them.
/// </summary>
[Trait("Category", "unit")]
public class GuardrailConfigTests
{
    private const string Models = """
        model_list:
          - model_name: gpt-3.5-turbo
            litellm_params: {model: mock/gpt-3.5-turbo}
        """;

    private static GuardrailOptions LoadLiteLlm(string yaml, bool allowUnsupported = false)
    {
        var result = ConfigLoader.Load(Models + "\n" + yaml, "litellm.yaml", new Dictionary<string, string>(), allowUnsupported);
        Assert.True(result.Options is not null, string.Join("\n", result.Errors));
        return result.Options!.Guardrails;
    }

    private static IReadOnlyList<string> Errors(string yaml)
    {
        var result = ConfigLoader.Load(Models + "\n" + yaml, "litellm.yaml", new Dictionary<string, string>());
        Assert.Null(result.Options);
        return result.Errors;
    }

    [Fact]
    public void Content_filter_example_with_prebuilt_patterns_and_blocked_words()
    {
        // litellm_content_filter.md, "PII Protection".
        var options = LoadLiteLlm("""
            guardrails:
              - guardrail_name: "content-filter-pre"
                litellm_params:
                  guardrail: litellm_content_filter
                  mode: "pre_call"
                  patterns:
                    - pattern_type: "prebuilt"
                      pattern_name: "us_ssn"
                      action: "BLOCK"
                    - pattern_type: "prebuilt"
                      pattern_name: "email"
                      action: "MASK"
                  blocked_words:
                    - keyword: "confidential"
                      action: "BLOCK"
                      description: "Sensitive internal information"
            """);
        var g = Assert.Single(options.Guardrails);
        Assert.Equal("content-filter-pre", g.Name);
        Assert.Equal("litellm_content_filter", g.Type);
        Assert.Equal([GuardrailMode.PreCall], g.Modes.ToArray());
        Assert.False(g.DefaultOn);
        var s = Assert.IsType<ContentFilterSettings>(g.Settings);
        Assert.Equal(["us_ssn", "email"], s.Patterns.Select(p => p.Prebuilt));
        Assert.Equal([GuardrailItemAction.Block, GuardrailItemAction.Mask], s.Patterns.Select(p => p.Action));
        var word = Assert.Single(s.BlockedWords);
        Assert.Equal(new BlockedWord("confidential", GuardrailItemAction.Block, "Sensitive internal information"), word);
        Assert.Equal("[{pattern_name}_REDACTED]", s.PatternRedactionFormat);
        Assert.Equal("[KEYWORD_REDACTED]", s.KeywordRedactionTag);
    }

    [Fact]
    public void Content_filter_custom_regex_redaction_formats_and_words_file()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("agw-words-").FullName, "sensitive_keywords.yaml");
        // litellm_content_filter.md, "Loading Keywords from File".
        File.WriteAllText(file, """
            blocked_words:
              - keyword: "project_apollo"
                action: "BLOCK"
                description: "Confidential project codename"
              - keyword: "internal_api"
                action: "MASK"
                description: "Internal API references"
            """);
        try
        {
            var options = LoadLiteLlm($$"""
                guardrails:
                  - guardrail_name: "custom-patterns"
                    litellm_params:
                      guardrail: litellm_content_filter
                      mode: "during_call"
                      pattern_redaction_format: "***{pattern_name}***"
                      keyword_redaction_tag: "***REDACTED***"
                      blocked_words_file: "{{file}}"
                      patterns:
                        - pattern_type: "regex"
                          pattern: '\b[A-Z]{3}-\d{4}\b'
                          name: "employee_id"
                          action: "MASK"
                        - pattern_type: "regex"
                          pattern: '(?P<code>PROJECT)-\d{6}'
                          name: "project_code"
                          action: "BLOCK"
                """);
            var s = Assert.IsType<ContentFilterSettings>(Assert.Single(options.Guardrails).Settings);
            Assert.Equal(["employee_id", "project_code"], s.Patterns.Select(p => p.Name));
            // Compiled case-insensitively, as LiteLLM compiles custom patterns; Python's named groups rewritten.
            Assert.Matches(s.Patterns[0].Custom!, "id abc-1234 here");
            Assert.Matches(s.Patterns[1].Custom!, "project-123456");
            Assert.Equal("***{pattern_name}***", s.PatternRedactionFormat);
            Assert.Equal("***REDACTED***", s.KeywordRedactionTag);
            Assert.Equal(["project_apollo", "internal_api"], s.BlockedWords.Select(w => w.Keyword).Order(StringComparer.Ordinal).Reverse());
        }
        finally { Directory.Delete(Path.GetDirectoryName(file)!, recursive: true); }
    }

    [Theory]
    [InlineData("patterns: [{pattern_type: prebuilt, pattern_name: swift_code, action: MASK}]", "pattern_name: unknown prebuilt pattern 'swift_code'")]
    [InlineData("patterns: [{pattern_type: regex, pattern: '([a-z', action: MASK}]", "pattern: not a valid regular expression")]
    [InlineData("patterns: [{pattern_type: glob, pattern: '*', action: MASK}]", "pattern_type: unknown pattern_type 'glob'")]
    [InlineData("blocked_words: [{keyword: x, action: REDACT}]", "action: unknown action 'REDACT'; expected MASK or BLOCK")]
    [InlineData("blocked_words_file: /nonexistent/words.yaml", "blocked_words_file: the blocked words file '/nonexistent/words.yaml' does not exist")]
    [InlineData("pattern_redaction_format: '[REDACTED]'\n      blocked_words: [{keyword: x, action: MASK}]", "pattern_redaction_format: pattern_redaction_format must contain {pattern_name}")]
    public void Content_filter_mistakes_are_errors_at_their_path(string parameters, string expected)
    {
        var errors = Errors($"""
            guardrails:
              - guardrail_name: f
                litellm_params:
                  guardrail: litellm_content_filter
                  mode: pre_call
                  {parameters}
            """);
        Assert.Contains(errors, e => e.StartsWith("guardrails[0].litellm_params.", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Content_filter_categories_are_refused_unless_allowed()
    {
        const string yaml = """
            guardrails:
              - guardrail_name: "harmful-content-filter"
                litellm_params:
                  guardrail: litellm_content_filter
                  mode: "pre_call"
                  categories:
                    - category: "harmful_self_harm"
                      enabled: true
                      action: "BLOCK"
                      severity_threshold: "medium"
            """;
        Assert.Contains(Errors(yaml), e => e.StartsWith("guardrails[0].litellm_params.categories: content categories", StringComparison.Ordinal));
        Assert.Single(LoadLiteLlm(yaml, allowUnsupported: true).Guardrails);
    }

    [Fact]
    public void Presidio_entities_thresholds_scope_and_allow_list()
    {
        // pii_masking_v2.md, "Configure Entity Types, Detection Confidence Score Threshold, and Scope".
        var options = LoadLiteLlm("""
            guardrails:
              - guardrail_name: "presidio-mask-guard"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_mcp_call"
                  presidio_filter_scope: both
                  presidio_phrase_allow_list:
                    - "Company Name"
                    - "Clippy"
                  presidio_skip_system_developer_message: true
                  presidio_score_thresholds:
                    ALL: 0.7
                    CREDIT_CARD: 0.8
                    EMAIL_ADDRESS: 0.6
                  pii_entities_config:
                    CREDIT_CARD: "MASK"
                    EMAIL_ADDRESS: "MASK"
              - guardrail_name: "presidio-block-guard"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_call"
                  presidio_filter_scope: input
                  output_parse_pii: True
                  presidio_language: "de"
                  pii_entities_config:
                    CREDIT_CARD: "BLOCK"
            """);
        Assert.Equal(2, options.Guardrails.Length);
        var mask = Assert.IsType<PresidioSettings>(options.Guardrails[0].Settings);
        Assert.Equal([GuardrailMode.PreMcpCall], options.Guardrails[0].Modes.ToArray());
        Assert.Equal(GuardrailItemAction.Mask, mask.Entities["CREDIT_CARD"]);
        Assert.Equal(0.7, mask.ScoreThresholds["ALL"]);
        Assert.Equal(0.8, mask.ScoreThresholds["CREDIT_CARD"]);
        Assert.Equal(["Company Name", "Clippy"], mask.PhraseAllowList.ToArray());
        Assert.True(mask.SkipSystemDeveloperMessage);
        var block = Assert.IsType<PresidioSettings>(options.Guardrails[1].Settings);
        Assert.Equal(GuardrailItemAction.Block, block.Entities["CREDIT_CARD"]);
        Assert.Equal(PiiFilterScope.Input, block.FilterScope);
        Assert.True(block.OutputParsePii);
        Assert.Equal("de", block.Language);
    }

    [Fact]
    public void Presidio_entities_that_need_a_language_model_are_refused()
    {
        // pii_masking_v2.md's German example masks PERSON: no local recogniser can, so it must not pass silently.
        var errors = Errors("""
            guardrails:
              - guardrail_name: "presidio-german"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_call"
                  presidio_language: "de"
                  pii_entities_config:
                    CREDIT_CARD: "MASK"
                    PERSON: "MASK"
            """);
        var error = Assert.Single(errors);
        Assert.StartsWith("guardrails[0].litellm_params.pii_entities_config.PERSON: the Presidio entity 'PERSON' is not supported", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Presidio_server_settings_are_warned_as_unused()
    {
        var result = ConfigLoader.Load(Models + "\n" + """
            guardrails:
              - guardrail_name: "presidio-pii"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_call"
                  presidio_language: "en"
                  presidio_analyzer_api_base: http://localhost:5002
            """, "litellm.yaml", new Dictionary<string, string>());
        Assert.NotNull(result.Options);
        var g = Assert.Single(result.Options!.Guardrails.Guardrails);
        Assert.True(Assert.IsType<PresidioSettings>(g.Settings).Entities.IsEmpty);
        Assert.Contains(result.Warnings, w => w.StartsWith("guardrails[0].litellm_params.presidio_analyzer_api_base: not used", StringComparison.Ordinal));
    }

    [Fact]
    public void Hide_secrets_with_detect_secrets_plugins()
    {
        // secret_detection.md, "Control secret detectors".
        var options = LoadLiteLlm("""
            guardrails:
              - guardrail_name: "hide-secrets"
                litellm_params:
                  guardrail: "hide-secrets"
                  mode: "pre_call"
                  detect_secrets_config: {
                     "plugins_used": [
                      {"name": "SoftlayerDetector"},
                      {"name": "StripeDetector"},
                      {"name": "NpmDetector"}
                    ]
                  }
            """);
        var s = Assert.IsType<SecretSettings>(Assert.Single(options.Guardrails).Settings);
        Assert.Equal(["StripeDetector", "NpmDetector"], s.Plugins.ToArray());
    }

    [Fact]
    public void Modes_as_a_list_and_as_a_default_map_and_guardrail_info()
    {
        // quick_start.md: mode as a list, default_on, guardrail_info returned on /guardrails/list.
        var options = LoadLiteLlm("""
            guardrails:
              - guardrail_name: general-guard
                litellm_params:
                  guardrail: hide-secrets
                  mode: [pre_call, post_call]
                  default_on: true
              - guardrail_name: "logging-guard"
                litellm_params:
                  guardrail: presidio
                  mode:
                    default: "logging_only"
                guardrail_info:
                  params:
                    - name: "toxicity_score"
                      type: "float"
                      description: "Score between 0-1 indicating content toxicity level"
            """);
        Assert.Equal([GuardrailMode.PreCall, GuardrailMode.PostCall], options.Guardrails[0].Modes.ToArray());
        Assert.True(options.Guardrails[0].DefaultOn);
        Assert.Equal([GuardrailMode.LoggingOnly], options.Guardrails[1].Modes.ToArray());
        Assert.Equal("""{"params":[{"name":"toxicity_score","type":"float","description":"Score between 0-1 indicating content toxicity level"}]}""", options.Guardrails[1].InfoJson);
    }

    [Theory]
    [InlineData("mode: on_request", "guardrails[0].litellm_params.mode: unknown mode 'on_request'")]
    [InlineData("default_on: true", "guardrails[0].litellm_params.mode: mode is required")]
    [InlineData("mode: {tags: {\"User-Agent: claude-cli\": logging_only}, default: pre_call}", "guardrails[0].litellm_params.mode.tags: guardrail modes chosen by request tags")]
    public void Bad_modes_are_errors(string mode, string expected)
    {
        var errors = Errors($"""
            guardrails:
              - guardrail_name: g
                litellm_params:
                  guardrail: hide-secrets
                  {mode}
            """);
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_types_vendor_types_and_duplicate_names_are_errors()
    {
        var errors = Errors("""
            guardrails:
              - guardrail_name: a
                litellm_params: {guardrail: not_a_guardrail, mode: pre_call}
              - guardrail_name: b
                litellm_params: {guardrail: lakera_v2, mode: pre_call, api_key: x}
              - guardrail_name: c
                litellm_params: {guardrail: hide-secrets, mode: pre_call}
              - guardrail_name: c
                litellm_params: {guardrail: presidio, mode: pre_call}
            """);
        Assert.Contains(errors, e => e.StartsWith("guardrails[0].litellm_params.guardrail: unknown guardrail type 'not_a_guardrail'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("guardrails[1].litellm_params.guardrail: the 'lakera_v2' guardrail is not supported", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("guardrails: the guardrail name 'c' is used twice", StringComparison.Ordinal));
    }

    [Fact]
    public void Callbacks_hide_secrets_and_detect_prompt_injection_with_params()
    {
        // prompt_injection.md "LLM API Checks" and secret detection's callback form.
        var options = LoadLiteLlm("""
            litellm_settings:
              callbacks: ["detect_prompt_injection", "hide_secrets"]
              prompt_injection_params:
                heuristics_check: true
                similarity_check: true
                llm_api_check: true
                llm_api_name: gpt-3.5-turbo
                llm_api_system_prompt: "Detect if prompt is safe to run. Return 'UNSAFE' if not."
                llm_api_fail_call_string: "UNSAFE"
              enable_json_schema_validation: true
            """);
        Assert.True(options.JsonSchemaValidation);
        Assert.Equal(["detect_prompt_injection", "hide_secrets"], options.Guardrails.Select(g => g.Name));
        Assert.All(options.Guardrails, g => { Assert.True(g.DefaultOn); Assert.Equal([GuardrailMode.PreCall], g.Modes.ToArray()); });
        var p = Assert.IsType<PromptInjectionSettings>(options.Guardrails[0].Settings);
        Assert.True(p.HeuristicsCheck && p.SimilarityCheck && p.LlmApiCheck);
        Assert.Equal("gpt-3.5-turbo", p.LlmApiName);
        Assert.Equal("UNSAFE", p.LlmApiFailCallString);
        Assert.Equal("hide-secrets", options.Guardrails[1].Type);
        Assert.IsType<SecretSettings>(options.Guardrails[1].Settings);
    }

    [Fact]
    public void The_older_litellm_settings_guardrails_list()
    {
        // litellm/types/guardrails.py's docstring example (callbacks per named guardrail), with local callbacks.
        var options = LoadLiteLlm("""
            litellm_settings:
              guardrails:
                - prompt_injection:
                    callbacks: [detect_prompt_injection, hide_secrets]
                    default_on: true
                    enabled_roles: [user]
                - detect_secrets:
                    callbacks: [hide_secrets]
                    default_on: false
                    logging_only: true
            """);
        Assert.Equal(["prompt_injection", "detect_secrets"], options.Guardrails.Select(g => g.Name));
        var group = Assert.IsType<GuardrailGroupSettings>(options.Guardrails[0].Settings);
        Assert.Equal(GuardrailGroupSettings.TypeName, options.Guardrails[0].Type);
        Assert.True(options.Guardrails[0].DefaultOn);
        Assert.Equal(["detect_prompt_injection", "hide_secrets"], group.Members.Select(m => m.Name));
        Assert.Equal(["user"], group.EnabledRoles.ToArray());
        Assert.Equal([GuardrailMode.LoggingOnly], options.Guardrails[1].Modes.ToArray());
        Assert.False(options.Guardrails[1].DefaultOn);
    }

    [Fact]
    public void Our_schema_reads_the_same_list_strictly_with_guardrail_settings()
    {
        var result = ConfigLoader.Load("""
            models:
              - name: a
                provider: mock
            guardrails:
              - guardrail_name: pii
                litellm_params:
                  guardrail: presidio
                  mode: [pre_call, post_call, sandbox_output, post_mcp_call]
                  dry_run: true
                  pii_entities_config: {EMAIL_ADDRESS: BLOCK}
            guardrail_settings:
              dry_run: false
              json_schema_validation: true
            """, "agw.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, string.Join("\n", result.Errors));
        var g = Assert.Single(result.Options!.Guardrails.Guardrails);
        Assert.True(g.DryRun);
        Assert.Equal([GuardrailMode.PreCall, GuardrailMode.PostCall, GuardrailMode.SandboxOutput, GuardrailMode.PostMcpCall], g.Modes.ToArray());
        Assert.True(result.Options.Guardrails.JsonSchemaValidation);

        var typo = ConfigLoader.Load("""
            models:
              - name: a
                provider: mock
            guardrails:
              - guardrail_name: pii
                litellm_params: {guardrail: presidio, mode: pre_call, presidio_langauge: en}
            """, "agw.yaml", new Dictionary<string, string>());
        Assert.Contains(typo.Errors, e => e == "guardrails[0].litellm_params.presidio_langauge: unknown key");
    }

    [Fact]
    public void No_guardrails_configured_is_none()
    {
        var options = LoadLiteLlm("litellm_settings:\n  num_retries: 1\n");
        Assert.True(options.IsEmpty);
    }
}
