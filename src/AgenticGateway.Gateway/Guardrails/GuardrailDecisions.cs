using System.Buffers;
using System.Text.Json;
using AgenticGateway.Pipeline;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// A request's guardrail decisions, as its spend log records them (LiteLLM's <c>guardrail_information</c> entries:
/// <c>guardrail_name</c>, <c>guardrail_mode</c>, <c>guardrail_status</c>, <c>duration</c> in seconds; ours:
/// <c>guardrail_action</c>, <c>dry_run</c>, <c>detections</c> counted by kind, <c>error</c>). Never the content.
/// A request feature; during_call checks add to it from another thread, hence the lock.
/// </summary>
internal sealed class GuardrailDecisions : IGuardrailInformation
{
    private readonly List<GuardrailDecision> _decisions = [];

    public void Add(IEnumerable<GuardrailDecision> decisions)
    {
        lock (_decisions) _decisions.AddRange(decisions);
    }

    public void Add(GuardrailDecision decision)
    {
        lock (_decisions) _decisions.Add(decision);
    }

    public IReadOnlyList<GuardrailDecision> Snapshot()
    {
        lock (_decisions) return [.. _decisions];
    }

    /// <summary>The names of the guardrails that ran, in order and once each (LiteLLM's x-litellm-applied-guardrails).</summary>
    public string AppliedNames() => string.Join(",", Snapshot().Select(d => d.Guardrail).Distinct(StringComparer.Ordinal));

    public string? Json
    {
        get
        {
            var decisions = Snapshot();
            if (decisions.Count == 0) return null;
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartArray();
                foreach (var d in decisions) Write(w, d);
                w.WriteEndArray();
            }
            return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
    }

    /// <summary>LiteLLM's statuses: success, guardrail_intervened, guardrail_flagged (found, only reported), guardrail_failed_to_respond.</summary>
    public static string Status(GuardrailDecision d) =>
        d.Error is not null ? "guardrail_failed_to_respond"
        : d.Action == GuardrailAction.Allow ? "success"
        : d.DryRun ? "guardrail_flagged" : "guardrail_intervened";

    public static void Write(Utf8JsonWriter w, GuardrailDecision d)
    {
        w.WriteStartObject();
        w.WriteString("guardrail_name", d.Guardrail);
        w.WriteString("guardrail_mode", GuardrailNames.Mode(d.Mode));
        w.WriteString("guardrail_status", Status(d));
        w.WriteString("guardrail_action", GuardrailNames.Action(d.Action));
        w.WriteBoolean("dry_run", d.DryRun);
        w.WriteNumber("duration", Math.Round(d.DurationMs / 1000, 6));
        w.WriteStartObject("detections");
        foreach (var (kind, count) in d.Counts.OrderBy(c => c.Key, StringComparer.Ordinal)) w.WriteNumber(kind, count);
        w.WriteEndObject();
        if (d.Error is not null) w.WriteString("error", d.Error);
        w.WriteEndObject();
    }
}
