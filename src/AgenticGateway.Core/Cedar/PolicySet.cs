using System.Collections.Frozen;
using System.Collections.Immutable;

namespace AgenticGateway.Cedar;

/// <summary>
/// A loaded, compiled set of Cedar policies (immutable; reload builds a new one). Policies are parsed and compiled once
/// per load; each action's applicable policies are precomputed.
/// </summary>
internal sealed class PolicySet
{
    private readonly FrozenDictionary<EntityUid, int[]> _byAction;
    // Policies whose action scope can hold for an action no scope names: unconstrained ones and `in` ones (hierarchy).
    private readonly int[] _otherActions;

    private PolicySet(ImmutableArray<CedarPolicy> policies)
    {
        Policies = policies;
        var named = new HashSet<EntityUid>();
        foreach (var p in policies)
        {
            if (p.ActionScope.Kind is ScopeKind.Equal or ScopeKind.In)
                named.Add(p.ActionScope.Target);
            foreach (var t in p.ActionScope.Targets)
                named.Add(t);
        }
        _byAction = named.ToFrozenDictionary(a => a, a => Applicable(policies, a));
        _otherActions = Applicable(policies, new EntityUid("", ""));
    }

    public static PolicySet Empty { get; } = new([]);

    public ImmutableArray<CedarPolicy> Policies { get; }

    /// <summary>Parses and compiles every source (in the order given); every error is reported, and no set when any.</summary>
    public static PolicyLoad Load(IEnumerable<PolicySource> sources)
    {
        var errors = ImmutableArray.CreateBuilder<PolicyError>();
        var parsed = new List<CedarPolicy>();
        foreach (var source in sources)
            CedarParser.Parse(source, parsed, errors);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in parsed)
            if (!ids.Add(p.Id))
                errors.Add(new PolicyError(p.File, p.Line, p.Column, $"duplicate policy id \"{p.Id}\""));
        return errors.Count > 0 ? new PolicyLoad(null, errors.ToImmutable()) : new PolicyLoad(new PolicySet([.. parsed]), []);
    }

    /// <summary>
    /// Cedar's authorization: allowed iff some permit is satisfied and no forbid is; a policy whose evaluation errors is
    /// skipped and reported. Determining policies: the satisfied permits when allowed, else the satisfied forbids.
    /// </summary>
    public AuthorizationResult IsAuthorized(in CedarRequest request, IEntityStore entities)
    {
        var permits = ImmutableArray.CreateBuilder<string>();
        var forbids = ImmutableArray.CreateBuilder<string>();
        var errors = ImmutableArray.CreateBuilder<PolicyErrorReport>();
        foreach (var i in PoliciesFor(request.Action.Uid))
        {
            var policy = Policies[i];
            switch (policy.Evaluate(request, entities, out var error))
            {
                case PolicyOutcome.Satisfied:
                    (policy.Effect == PolicyEffect.Permit ? permits : forbids).Add(policy.Id);
                    break;
                case PolicyOutcome.Error:
                    errors.Add(new PolicyErrorReport(policy.Id, error!));
                    break;
            }
        }
        var allowed = permits.Count > 0 && forbids.Count == 0;
        return new AuthorizationResult(allowed, allowed ? permits.ToImmutable() : forbids.ToImmutable(), errors.ToImmutable());
    }

    /// <summary>One policy against one request: no allocation unless it errors. <paramref name="error"/> is null unless Error.</summary>
    public PolicyOutcome Evaluate(int policyIndex, in CedarRequest request, IEntityStore entities, out string? error) =>
        Policies[policyIndex].Evaluate(request, entities, out error);

    /// <summary>The indexes of the policies whose action scope can hold for <paramref name="action"/>, in load order.</summary>
    public ReadOnlySpan<int> PoliciesFor(in EntityUid action) =>
        _byAction.TryGetValue(action, out var list) ? list : _otherActions;

    private static int[] Applicable(ImmutableArray<CedarPolicy> policies, EntityUid action)
    {
        var list = new List<int>();
        for (var i = 0; i < policies.Length; i++)
            if (policies[i].ActionScope.CanMatch(action))
                list.Add(i);
        return [.. list];
    }
}
