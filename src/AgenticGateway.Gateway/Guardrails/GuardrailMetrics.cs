using System.Diagnostics.Metrics;
using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// Every guardrail decision, counted: <c>agw_guardrail_decisions_total{guardrail,mode,action}</c> (action: allow, mask,
/// block; dry_run: whether it only reported) and <c>agw_guardrail_duration_seconds{guardrail,mode}</c>. Labels come
/// from the configuration (guardrail names, modes), never from requests.
/// </summary>
internal sealed class GuardrailMetrics
{
    private readonly Counter<long> _decisions;
    private readonly Histogram<double> _duration;

    public GuardrailMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Observability.GatewayMetrics.MeterName);
        _decisions = meter.CreateCounter<long>("agw.guardrail.decisions", "{decision}", "Guardrail decisions by guardrail, mode and action.");
        _duration = meter.CreateHistogram<double>("agw.guardrail.duration", "s", "Time a guardrail took to check.");
    }

    public void Decision(GuardrailDecision d)
    {
        var mode = GuardrailNames.Mode(d.Mode);
        if (_decisions.Enabled)
            _decisions.Add(1, new("guardrail", d.Guardrail), new("mode", mode), new("action", GuardrailNames.Action(d.Action)), new("dry_run", d.DryRun ? "true" : "false"));
        if (_duration.Enabled) _duration.Record(d.DurationMs / 1000, new("guardrail", d.Guardrail), new("mode", mode));
    }
}

/// <summary>The wire names of modes and actions (LiteLLM's for modes).</summary>
internal static class GuardrailNames
{
    public static string Mode(GuardrailMode mode) => mode switch
    {
        GuardrailMode.PreCall => "pre_call",
        GuardrailMode.DuringCall => "during_call",
        GuardrailMode.PostCall => "post_call",
        GuardrailMode.LoggingOnly => "logging_only",
        GuardrailMode.PreMcpCall => "pre_mcp_call",
        GuardrailMode.DuringMcpCall => "during_mcp_call",
        GuardrailMode.PostMcpCall => "post_mcp_call",
        GuardrailMode.SandboxOutput => "sandbox_output",
        _ => "unknown",
    };

    public static string Action(GuardrailAction action) => action switch
    {
        GuardrailAction.Mask => "mask",
        GuardrailAction.Block => "block",
        _ => "allow",
    };
}
