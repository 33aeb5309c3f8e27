using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using AgenticGateway.Cedar;

namespace AgenticGateway.Policies;

/// <summary>What the policies made of a group's candidates: bit masks over the group's deployments.</summary>
internal sealed class RoutingVerdict
{
    /// <summary>Eligible candidates no forbid matched.</summary>
    public ulong Allowed { get; init; }
    /// <summary>The allowed candidates of the top rank (all allowed ones when no permit matched any).</summary>
    public ulong Preferred { get; init; }
    /// <summary>The highest @priority among the permits that matched an allowed candidate; null when none matched.</summary>
    public int? TopPriority { get; init; }
    /// <summary>The permit that decided the preference (first in load order among the top rank's); null when none did.</summary>
    public string? DecidingPolicy { get; init; }
    /// <summary>When every eligible candidate is forbidden: every forbid that matched one, in load order. Empty otherwise.</summary>
    public ImmutableArray<string> ForbiddingPolicies { get; init; } = [];
    /// <summary>Per evaluated candidate, with its reasons; only when asked to explain.</summary>
    public CandidateVerdict[]? Candidates { get; init; }
    /// <summary>Policies that failed to evaluate (skipped, as Cedar skips them): <c>id: message</c>. Only when explaining.</summary>
    public ImmutableArray<string> Errors { get; init; } = [];

    public bool AllForbidden(ulong eligible) => Allowed == 0 && eligible != 0;
}

/// <summary>
/// Chooses among a model group's candidates with a policy set (docs/policies.md, "Selection"): a candidate any
/// satisfied forbid matches is removed (forbid overrides permit); among the rest the highest <c>@priority</c> of the
/// permits a candidate satisfies ranks it, and the top rank is preferred; with no permit satisfied there is no
/// preference. Pure: the router applies the verdict (its strategy picks among Preferred, then the other Allowed).
/// </summary>
internal static class RoutingSelection
{
    /// <summary>The policy set's routing policies split by effect, permits by rank: made once per loaded set.</summary>
    private sealed class Plan
    {
        public required int[] Forbids { get; init; }
        /// <summary>Highest priority first, load order within a priority: the first a candidate satisfies is its rank.</summary>
        public required int[] Permits { get; init; }
    }

    private static readonly ConditionalWeakTable<PolicySet, Plan> Plans = new();

    private static Plan PlanFor(PolicySet set) => Plans.GetValue(set, static s =>
    {
        var applicable = s.PoliciesFor(RoutingEntities.SelectModelUid).ToArray();
        return new Plan
        {
            Forbids = [.. applicable.Where(i => s.Policies[i].Effect == PolicyEffect.Forbid)],
            Permits = [.. applicable.Where(i => s.Policies[i].Effect == PolicyEffect.Permit).OrderByDescending(i => s.Policies[i].Priority).ThenBy(i => i)],
        };
    });

    /// <param name="candidates">The group's deployments as entities, in the group's order (bit i is candidates[i]).</param>
    /// <param name="eligible">The candidates the router would consider at all (tag routing); the others are not evaluated.</param>
    /// <param name="explain">Evaluate every policy for every candidate and say why (for /route, sampled decisions and dry-run).</param>
    public static RoutingVerdict Select(PolicySet set, ICedarEntity principal, ReadOnlySpan<ICedarEntity> candidates, ulong eligible, CedarRecord context, IEntityStore store, bool explain)
    {
        var plan = PlanFor(set);
        if (candidates.Length < 64) eligible &= (1UL << candidates.Length) - 1;
        ulong allowed = 0;
        var topPriority = int.MinValue;
        var deciding = int.MaxValue;
        // Per candidate: the index into plan.Permits of the first permit it satisfied (its rank), or -1.
        Span<int> rankOf = stackalloc int[candidates.Length];
        var explained = explain ? new CandidateVerdict[System.Numerics.BitOperations.PopCount(eligible)] : null;
        List<string>? errors = null;
        var n = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            rankOf[i] = -1;
            if ((eligible & (1UL << i)) == 0) continue;
            var request = new CedarRequest(principal, RoutingEntities.SelectModel, candidates[i], context);
            List<string>? reasons = explain ? [] : null;
            var forbidden = false;
            foreach (var p in plan.Forbids)
            {
                var outcome = set.Evaluate(p, request, store, out var error);
                if (outcome == PolicyOutcome.Satisfied)
                {
                    forbidden = true;
                    reasons?.Add("forbid: " + set.Policies[p].Id);
                    if (!explain) break;
                }
                else if (outcome == PolicyOutcome.Error && explain) AddError(reasons!, ref errors, set.Policies[p].Id, error);
            }
            if (!forbidden || explain)
            {
                for (var r = 0; r < plan.Permits.Length; r++)
                {
                    var p = plan.Permits[r];
                    var outcome = set.Evaluate(p, request, store, out var error);
                    if (outcome == PolicyOutcome.Satisfied)
                    {
                        if (rankOf[i] < 0) rankOf[i] = r;
                        if (!explain) break;
                        var policy = set.Policies[p];
                        reasons!.Add($"permit(@priority {policy.Priority}): {policy.Id}");
                    }
                    else if (outcome == PolicyOutcome.Error && explain) AddError(reasons!, ref errors, set.Policies[p].Id, error);
                }
            }
            if (forbidden) rankOf[i] = -1;
            else
            {
                allowed |= 1UL << i;
                if (rankOf[i] >= 0)
                {
                    var policy = plan.Permits[rankOf[i]];
                    var priority = set.Policies[policy].Priority;
                    if (priority > topPriority)
                    {
                        topPriority = priority;
                        deciding = policy;
                    }
                    else if (priority == topPriority && policy < deciding) deciding = policy;
                }
            }
            if (explained is not null)
            {
                var entity = candidates[i];
                explained[n++] = new CandidateVerdict(i, entity is DeploymentEntity d ? d.Id : entity.Uid.Id, entity is DeploymentEntity dp ? dp.Provider : Attribute(entity, "provider"),
                    !forbidden, false, [.. reasons!]);
            }
        }

        var ranked = topPriority != int.MinValue;
        ulong preferred = 0;
        if (ranked)
        {
            for (var i = 0; i < candidates.Length; i++)
            {
                if ((allowed & (1UL << i)) != 0 && rankOf[i] >= 0 && set.Policies[plan.Permits[rankOf[i]]].Priority == topPriority) preferred |= 1UL << i;
            }
        }
        else preferred = allowed;
        if (explained is not null)
        {
            for (var k = 0; k < explained.Length; k++)
            {
                if ((preferred & (1UL << explained[k].Index)) != 0) explained[k] = explained[k] with { Preferred = true };
            }
        }
        return new RoutingVerdict
        {
            Allowed = allowed,
            Preferred = preferred,
            TopPriority = ranked ? topPriority : null,
            DecidingPolicy = ranked ? set.Policies[deciding].Id : null,
            ForbiddingPolicies = allowed == 0 && eligible != 0 ? Forbidding(set, plan, principal, candidates, eligible, context, store) : [],
            Candidates = explained,
            Errors = errors is null ? [] : [.. errors],
        };
    }

    /// <summary>Every forbid that matched an eligible candidate, in load order (the 403 names them all; rare, so evaluated again).</summary>
    private static ImmutableArray<string> Forbidding(PolicySet set, Plan plan, ICedarEntity principal, ReadOnlySpan<ICedarEntity> candidates, ulong eligible, CedarRecord context, IEntityStore store)
    {
        var ids = new SortedSet<int>();
        for (var i = 0; i < candidates.Length; i++)
        {
            if ((eligible & (1UL << i)) == 0) continue;
            var request = new CedarRequest(principal, RoutingEntities.SelectModel, candidates[i], context);
            foreach (var p in plan.Forbids)
            {
                if (set.Evaluate(p, request, store, out _) == PolicyOutcome.Satisfied) ids.Add(p);
            }
        }
        return [.. ids.Select(p => set.Policies[p].Id)];
    }

    private static void AddError(List<string> reasons, ref List<string>? errors, string policy, string? error)
    {
        var text = $"{policy}: {error}";
        reasons.Add("error: " + text);
        errors ??= [];
        if (!errors.Contains(text)) errors.Add(text);
    }

    private static string Attribute(ICedarEntity entity, string name) =>
        entity.TryGetAttribute(name, out var v) && v.Kind == CedarKind.String ? v.AsString : "";
}
