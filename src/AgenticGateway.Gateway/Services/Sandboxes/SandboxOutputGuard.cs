using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Json;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// <c>sandbox_output</c> guardrails on a run's events: every string of its stdout, stderr, result and exception
/// events (the protocol's id and type aside) is checked at once, so a secret printed across two writes is found too;
/// a mask rewrites those strings in place, a block refuses the whole output.
/// </summary>
internal static class SandboxOutputGuard
{
    public static bool Applies(IContentGuardrails? guardrails, Caller? caller) =>
        caller is not null && guardrails?.AnyFor(GuardrailMode.SandboxOutput, caller) == true;

    /// <summary>The events to release (masked where needed) and the check (null when there was nothing to check).</summary>
    public static async ValueTask<(List<AgentEvent> Events, ContentCheck? Check)> CheckAsync(IContentGuardrails guardrails, List<AgentEvent> events,
        Caller caller, string requestId, CancellationToken ct)
    {
        var texts = new List<string>();
        foreach (var e in events)
            if (Guarded(e)) Collect(e.Body, texts);
        if (texts.Count == 0) return (events, null);
        var check = await guardrails.CheckAsync(GuardrailMode.SandboxOutput, texts, caller, requestId, "sandbox", ct);
        if (check.Blocked) return (events, check);
        var index = 0;
        var released = new List<AgentEvent>(events.Count);
        foreach (var e in events)
        {
            if (!Guarded(e))
            {
                released.Add(e);
                continue;
            }
            var own = WithId(e.Body, check.Texts, ref index);
            var at = 0;
            released.Add(e with { Body = JsonStrings.Rewrite(e.Body, own, ref at) });
        }
        return (released, check);
    }

    private static bool Guarded(AgentEvent e) => e.Type is "stdout" or "stderr" or "result" or "exception";

    private static void Collect(JsonElement body, List<string> into)
    {
        foreach (var p in body.EnumerateObject())
            if (!p.NameEquals("id") && !p.NameEquals("type")) JsonStrings.Collect(p.Value, into);
    }

    /// <summary>
    /// The replacement strings of one event in <see cref="JsonStrings.Rewrite"/>'s order: its id and type kept as they
    /// are, every other string taken from <paramref name="texts"/>.
    /// </summary>
    private static List<string> WithId(JsonElement body, IReadOnlyList<string> texts, ref int index)
    {
        var own = new List<string>();
        foreach (var p in body.EnumerateObject())
        {
            if (p.NameEquals("id") || p.NameEquals("type"))
            {
                JsonStrings.Collect(p.Value, own);
                continue;
            }
            var count = new List<string>();
            JsonStrings.Collect(p.Value, count);
            for (var i = 0; i < count.Count; i++) own.Add(texts[index++]);
        }
        return own;
    }
}
