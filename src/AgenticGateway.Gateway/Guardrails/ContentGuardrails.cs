using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// The guardrails of MCP tool calls and sandbox runs (<see cref="IContentGuardrails"/>), run by the same runner as the
/// LLM routes': the same selection (default_on, key and team), dry run and metrics.
/// </summary>
internal sealed class ContentGuardrails(IGuardrailRunner runner) : IContentGuardrails
{
    public bool AnyFor(GuardrailMode mode, Caller caller) => runner.AnyFor(mode, caller, null);

    public async ValueTask<ContentCheck> CheckAsync(GuardrailMode mode, IReadOnlyList<string> texts, Caller caller, string requestId, string subject, CancellationToken ct)
    {
        var result = await runner.RunAsync(mode, texts, caller, null, requestId, null, ct);
        return new ContentCheck(result.Texts, result.Blocked ? result.BlockedBy ?? "guardrail" : null, result.Reason, Information(result.Decisions));
    }

    /// <summary>
    /// The decisions as a JSON array in LiteLLM's StandardLoggingGuardrailInformation names (guardrail_name,
    /// guardrail_mode, guardrail_status, duration in seconds), with the counts by kind; never the content.
    /// </summary>
    internal static string? Information(IReadOnlyList<GuardrailDecision> decisions)
    {
        if (decisions.Count == 0) return null;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var d in decisions)
            {
                w.WriteStartObject();
                w.WriteString("guardrail_name", d.Guardrail);
                w.WriteString("guardrail_mode", ModeName(d.Mode));
                w.WriteString("guardrail_status", d.Error is not null ? "guardrail_failed_to_respond" : d.Action == GuardrailAction.Allow ? "success" : "guardrail_intervened");
                w.WriteString("guardrail_action", d.Action switch { GuardrailAction.Block => "block", GuardrailAction.Mask => "mask", _ => "allow" });
                w.WriteBoolean("dry_run", d.DryRun);
                w.WriteNumber("duration", Math.Round(d.DurationMs / 1000, 6));
                w.WriteStartObject("masked_entity_count");
                foreach (var (kind, count) in d.Counts) w.WriteNumber(kind, count);
                w.WriteEndObject();
                if (d.Error is not null) w.WriteString("error", d.Error);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>LiteLLM's name of a mode (its <c>mode</c> values; ours for sandbox output).</summary>
    internal static string ModeName(GuardrailMode mode) => mode switch
    {
        GuardrailMode.PreCall => "pre_call",
        GuardrailMode.DuringCall => "during_call",
        GuardrailMode.PostCall => "post_call",
        GuardrailMode.LoggingOnly => "logging_only",
        GuardrailMode.PreMcpCall => "pre_mcp_call",
        GuardrailMode.DuringMcpCall => "during_mcp_call",
        GuardrailMode.PostMcpCall => "post_mcp_call",
        _ => "sandbox_output",
    };
}
