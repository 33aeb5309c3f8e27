using System.Collections.Immutable;
using System.Diagnostics;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using AgenticGateway.Cedar;
using AgenticGateway.Routing;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Policies;

/// <summary>
/// The request path's side of routing policies: judges a group's candidates before the router picks, names the deciding
/// policy in <c>x-agw-policy</c>, refuses when every candidate is forbidden, and in dry-run mode only reports
/// (<c>x-agw-policy-dry-run</c>). Decisions go to the <see cref="IRoutingDecisionSink"/> when one is registered: sampled,
/// and always for denials and dry-run disagreements.
/// </summary>
internal sealed class PolicyRouter(RoutingPolicies policies, PolicyMetrics metrics, ILogger<PolicyRouter> logger, IRoutingDecisionSink? sink = null) : IRoutingPolicyHook
{
    public const string PolicyHeader = "x-agw-policy";
    public const string DryRunHeader = "x-agw-policy-dry-run";

    public RoutingPolicies Policies => policies;

    public bool TryEvaluate(LlmExchange x, ModelGroup group, ulong eligible, out GroupPolicy decided)
    {
        decided = default;
        if (policies.Current is not { } snapshot) return false;
        decided = Evaluate(x, group, snapshot, eligible);
        return true;
    }

    /// <summary>Judges the group's <paramref name="eligible"/> deployments for this request.</summary>
    private GroupPolicy Evaluate(LlmExchange x, ModelGroup group, PolicySnapshot snapshot, ulong eligible)
    {
        var start = Stopwatch.GetTimestamp();
        var principal = PrincipalEntity.For(x.Caller);
        var context = ContextOf(x, group, principal);
        var candidates = policies.EntitiesOf(group);
        var verdict = RoutingSelection.Select(snapshot.Set, principal, candidates, eligible, context, EntityStore.Empty, explain: false);
        var elapsed = Stopwatch.GetTimestamp() - start;
        var dryRun = snapshot.Options.DryRun;
        var headers = x.Http.Response.Headers;
        if (verdict.AllForbidden(eligible & AllOf(group)))
        {
            var ids = string.Join(", ", verdict.ForbiddingPolicies);
            metrics.Evaluated(dryRun ? RoutingDecision.DryRunDecision : RoutingDecision.Deny, elapsed);
            PolicyLog.Denied(logger, group.Name, ids, x.RequestId);
            Record(x, group, snapshot.Set, dryRun, principal, context, candidates, eligible, null, dryRun ? RoutingDecision.DryRunDecision : RoutingDecision.Deny, [.. verdict.ForbiddingPolicies], null, elapsed);
            if (dryRun)
            {
                headers[DryRunHeader] = "deny; policies=" + string.Join(",", verdict.ForbiddingPolicies);
                return new GroupPolicy { Set = snapshot.Set, DryRun = dryRun, Allowed = eligible, Preferred = 0, Verdict = verdict, ElapsedTicks = elapsed };
            }
            headers.Remove(PolicyHeader);
            var message = $"Routing policies forbid every deployment of '{group.Name}' for this request (forbidden by {ids}).";
            return new GroupPolicy { Set = snapshot.Set, DryRun = dryRun, Allowed = 0, Preferred = 0, Verdict = verdict, ElapsedTicks = elapsed, Denied = new ApiError(403, message, "permission_error", "routing_policy_denied") };
        }
        metrics.Evaluated(dryRun ? RoutingDecision.DryRunDecision : RoutingDecision.Allow, elapsed);
        var sampled = sink is not null && snapshot.Options.DecisionSampleRate > 0 && (snapshot.Options.DecisionSampleRate >= 1 || Random.Shared.NextDouble() < snapshot.Options.DecisionSampleRate);
        if (dryRun) return new GroupPolicy { Set = snapshot.Set, DryRun = dryRun, Allowed = eligible, Preferred = 0, Verdict = verdict, ElapsedTicks = elapsed, Sampled = sampled };
        // Each group tried (a fallback too) names its own deciding policy; none: no header.
        if (verdict.DecidingPolicy is { } deciding) headers[PolicyHeader] = deciding;
        else headers.Remove(PolicyHeader);
        var preferred = verdict.Preferred == verdict.Allowed ? 0 : verdict.Preferred;
        return new GroupPolicy { Set = snapshot.Set, DryRun = dryRun, Allowed = eligible & verdict.Allowed, Preferred = preferred, Verdict = verdict, ElapsedTicks = elapsed, Sampled = sampled };
    }

    /// <summary>After the router's first pick in the group: the dry-run report, and the decision record when due.</summary>
    public void Picked(LlmExchange x, ModelGroup group, in GroupPolicy decided, ulong eligible, int index)
    {
        if (decided.Verdict is not { } verdict || decided.Set is not { } set || verdict.AllForbidden(eligible & AllOf(group))) return;
        var bit = index >= 0 ? 1UL << index : 0;
        if (decided.DryRun)
        {
            // Would enforcement have chosen differently? A forbidden pick, or one outside the preferred set.
            var disagrees = index >= 0 && ((verdict.Allowed & bit) == 0 || (verdict.Preferred != verdict.Allowed && (verdict.Preferred & bit) == 0));
            var report = "allow" + (verdict.DecidingPolicy is { } p ? "; policy=" + p : "") + (disagrees ? "; disagrees" : "");
            x.Http.Response.Headers[DryRunHeader] = report;
            if (disagrees) PolicyLog.DryRunDisagrees(logger, group.Name, report, x.RequestId);
            if (!disagrees && !decided.Sampled) return;
        }
        else if (!decided.Sampled) return;
        var principal = PrincipalEntity.For(x.Caller);
        Record(x, group, set, decided.DryRun, principal, ContextOf(x, group, principal), policies.EntitiesOf(group), eligible, index,
            decided.DryRun ? RoutingDecision.DryRunDecision : RoutingDecision.Allow, verdict.DecidingPolicy is { } d ? [d] : [], verdict.DecidingPolicy, decided.ElapsedTicks);
    }

    private CedarRecord ContextOf(LlmExchange x, ModelGroup group, PrincipalEntity principal) =>
        RoutingContext.Build(new RoutingContext.Inputs(x.Http.Features.Get<Budgets.Hold>()?.Standing, RoutingContext.Sla(x.Http, principal), x.Body.Memory.Length,
            x.Request.Model, group.Name, x.Operation, x.Request.Stream, UpstreamDispatcher.RequestTags(x)), policies.Time.GetUtcNow());

    /// <summary>The explained decision to the sink; explaining evaluates again, which only sampled and unusual decisions pay.</summary>
    private void Record(LlmExchange x, ModelGroup group, PolicySet set, bool dryRun, PrincipalEntity principal, CedarRecord context, ICedarEntity[] candidates, ulong eligible,
        int? index, string decision, ImmutableArray<string> named, string? deciding, long elapsedTicks)
    {
        if (sink is null) return;
        var explained = RoutingSelection.Select(set, principal, candidates, eligible, context, EntityStore.Empty, explain: true);
        var chosen = index is { } i && i >= 0 ? group.Deployments[i] : null;
        var record = new RoutingDecision(x.RequestId, policies.Time.GetUtcNow(), group.Name, x.Request.Model, chosen?.Id, chosen?.ProviderName, decision, deciding, named,
            [.. explained.Candidates ?? []], principal.KeyAlias, principal.TeamId, principal.UserId, dryRun, (long)Stopwatch.GetElapsedTime(0, elapsedTicks).TotalMicroseconds);
        // A full writer drops the decision and counts it (agw_routing_decisions_dropped_total): never wait for storage here.
        sink.TryWrite(record);
    }

    private static ulong AllOf(ModelGroup group) => group.Deployments.Length >= 64 ? ulong.MaxValue : (1UL << group.Deployments.Length) - 1;
}
