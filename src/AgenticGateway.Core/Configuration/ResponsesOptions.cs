using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>The Responses API (<c>responses:</c>, ours; accepted beside a LiteLLM config too). Reloads: it applies to responses stored after the reload.</summary>
internal sealed record ResponsesOptions
{
    /// <summary>OpenAI keeps a stored response 30 days.</summary>
    public static readonly TimeSpan DefaultStoreTtl = TimeSpan.FromDays(30);
    /// <summary>A year: a longer retention is an archive, which the spend log (and the operator's own export) is for.</summary>
    public static readonly TimeSpan MaxStoreTtl = TimeSpan.FromDays(365);

    /// <summary>
    /// How long a stored response (<c>store: true</c>, the default) can be retrieved and continued with
    /// previous_response_id, from its creation (<c>store_ttl</c>). LiteLLM has no such setting: it rebuilds a
    /// conversation from its spend logs, which live until <c>maximum_spend_logs_retention_period</c>, a setting of the
    /// spend log the gateway does not borrow for this.
    /// </summary>
    public TimeSpan StoreTtl { get; init; } = DefaultStoreTtl;

    /// <summary>
    /// Model turns one response (or chat completion) may take while the gateway runs its hosted tools (code_interpreter,
    /// mcp) for it; the last allowed turn offers no tool, so the model answers (<c>max_tool_iterations</c>).
    /// </summary>
    public int MaxToolIterations { get; init; } = 8;

    public static ResponsesOptions Read(ConfigMap? r)
    {
        var options = new ResponsesOptions();
        if (r is null) return options;
        if (r.Duration("store_ttl", positive: true, max: MaxStoreTtl) is { } ttl) options = options with { StoreTtl = ttl };
        if (r.Int("max_tool_iterations", min: 1, max: 100) is { } turns) options = options with { MaxToolIterations = turns };
        r.ReportUnknownKeys(strict: true);
        return options;
    }
}
