using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;

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

    public IContentStream? OpenStream(GuardrailMode mode, Caller caller, string requestId, string subject)
    {
        // The one cross-chunk scanner (StreamScanner, through LocalTextPolicy) as for LLM streams; a remote guardrail
        // sees whole texts only, so then the caller holds the output whole.
        if (runner is not GuardrailRunner concrete) return null;
        var selected = concrete.Selected(mode, caller, null).Where(g => g is not LocalGuardrail l || l.Sees(mode)).ToList();
        if (selected.Count == 0 || !selected.All(g => g is LocalGuardrail)) return null;
        var guards = selected.Select(g => new StreamGuard((LocalGuardrail)g, concrete.ReportsOnly(g.Definition, mode))).ToList();
        return new ContentStream(concrete, mode, guards);
    }

    private sealed class ContentStream(GuardrailRunner runner, GuardrailMode mode, List<StreamGuard> guards) : IContentStream
    {
        private readonly LocalTextPolicy _policy = new(guards);
        private bool _finished;

        public string? BlockedBy => _policy.Blocked?.Guard.Guardrail.Definition.Name;

        public string? Reason => _policy.Blocked?.Reason;

        public string Piece(string channel, string text) => Timed(() => _policy.Piece(channel, text));

        public string End(string channel) => Timed(() => _policy.End(channel));

        private string Timed(Func<string> scan)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var text = scan();
            var ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds / Math.Max(1, guards.Count);
            foreach (var g in guards) g.Milliseconds += ms;
            return text;
        }

        public string? Finish()
        {
            if (_finished) return null;
            _finished = true;
            var decisions = new List<GuardrailDecision>(guards.Count);
            foreach (var g in guards)
            {
                var (action, counts) = g.Outcome();
                decisions.Add(runner.Record(g.Guardrail.Definition, mode, action, counts, g.Milliseconds));
            }
            return Information(decisions);
        }
    }

    /// <summary>The decisions as the spend log's guardrail_information (the LLM routes' writer: the same fields); null when none ran.</summary>
    internal static string? Information(IReadOnlyList<GuardrailDecision> decisions)
    {
        if (decisions.Count == 0) return null;
        var recorded = new GuardrailDecisions();
        recorded.Add(decisions);
        return recorded.Json;
    }
}
