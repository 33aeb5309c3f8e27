using System.Collections.Immutable;

namespace AgenticGateway.Configuration;

/// <summary>
/// Guardrails (LiteLLM's top-level <c>guardrails:</c> list, its older <c>litellm_settings.guardrails</c>, and the
/// guardrail callbacks such as <c>hide_secrets</c> and <c>detect_prompt_injection</c>). Empty unless configured.
/// </summary>
internal sealed record GuardrailOptions
{
    public static readonly GuardrailOptions None = new();

    /// <summary>In configuration order; names are unique.</summary>
    public ImmutableArray<GuardrailDefinition> Guardrails { get; init; } = [];
    /// <summary>Report only, everywhere: decisions are counted and logged, nothing is masked or blocked.</summary>
    public bool DryRun { get; init; }
    /// <summary>LiteLLM's <c>litellm_settings.enable_json_schema_validation</c>: answers to a <c>response_format</c> with a JSON schema are checked against it.</summary>
    public bool JsonSchemaValidation { get; init; }

    public bool IsEmpty => Guardrails.IsEmpty && !JsonSchemaValidation;
}

/// <summary>When a guardrail runs (LiteLLM's <c>mode</c> values, and ours for sandbox output).</summary>
internal enum GuardrailMode
{
    /// <summary>On the input, before the call.</summary>
    PreCall,
    /// <summary>On the input, in parallel with the call; the answer waits for it.</summary>
    DuringCall,
    /// <summary>On the output (and LiteLLM: the input too), after the call.</summary>
    PostCall,
    /// <summary>Only on what is logged: the gateway logs no content, so only the decision is recorded.</summary>
    LoggingOnly,
    /// <summary>On an MCP tool call's arguments, before it is sent.</summary>
    PreMcpCall,
    /// <summary>On an MCP tool call's arguments, in parallel with the call.</summary>
    DuringMcpCall,
    /// <summary>On an MCP tool call's result, before the caller gets it.</summary>
    PostMcpCall,
    /// <summary>On a sandbox run's output (stdout, stderr, results), before the caller gets it.</summary>
    SandboxOutput,
}

/// <summary>
/// One configured guardrail. <see cref="Type"/> is LiteLLM's <c>litellm_params.guardrail</c> (such as
/// <c>litellm_content_filter</c>, <c>presidio</c>, <c>hide-secrets</c>, <c>detect_prompt_injection</c>,
/// <c>generic_guardrail_api</c>); <see cref="Settings"/> holds what that type reads.
/// </summary>
internal sealed record GuardrailDefinition
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required ImmutableArray<GuardrailMode> Modes { get; init; }
    /// <summary>Runs on every request unless turned off for it; otherwise only where a key, team or request names it.</summary>
    public bool DefaultOn { get; init; }
    /// <summary>Report only (ours: <c>litellm_params.dry_run</c>).</summary>
    public bool DryRun { get; init; }
    public required GuardrailSettings Settings { get; init; }
    /// <summary>LiteLLM's <c>guardrail_info</c>, shown as-is on <c>GET /guardrails/list</c> (a JSON object, or null).</summary>
    public string? InfoJson { get; init; }
}

/// <summary>What one guardrail type reads from its <c>litellm_params</c>; each type has its own sealed record.</summary>
internal abstract record GuardrailSettings;
