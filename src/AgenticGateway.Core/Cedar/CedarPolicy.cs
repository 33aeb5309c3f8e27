using System.Collections.Frozen;

namespace AgenticGateway.Cedar;

/// <summary>A compiled policy: what it is (id, effect, annotations, where it was written) and how it evaluates.</summary>
internal sealed class CedarPolicy
{
    internal CedarPolicy(string id, PolicyEffect effect, FrozenDictionary<string, string> annotations, int priority,
        string file, int line, int column, string text, ScopeConstraint principal, ScopeConstraint action, ScopeConstraint resource,
        Condition[] conditions)
    {
        Id = id;
        Effect = effect;
        Annotations = annotations;
        Priority = priority;
        File = file;
        Line = line;
        Column = column;
        Text = text;
        PrincipalScope = principal;
        ActionScope = action;
        ResourceScope = resource;
        Conditions = conditions;
    }

    public string Id { get; }
    public PolicyEffect Effect { get; }
    public IReadOnlyDictionary<string, string> Annotations { get; }
    /// <summary><c>@priority</c>, 0 when absent.</summary>
    public int Priority { get; }
    public string File { get; }
    public int Line { get; }
    public int Column { get; }
    /// <summary>The policy's source, annotations to the closing semicolon.</summary>
    public string Text { get; }

    internal ScopeConstraint PrincipalScope { get; }
    internal ScopeConstraint ActionScope { get; }
    internal ScopeConstraint ResourceScope { get; }
    internal Condition[] Conditions { get; }

    /// <summary>Scope, then each condition in order, stopping at the first that does not hold (Cedar conjoins them).</summary>
    internal PolicyOutcome Evaluate(in CedarRequest request, IEntityStore entities, out string? error)
    {
        error = null;
        if (!PrincipalScope.Matches(request.Principal, entities) || !ActionScope.Matches(request.Action, entities)
            || !ResourceScope.Matches(request.Resource, entities))
            return PolicyOutcome.NotApplicable;
        if (Conditions.Length == 0)
            return PolicyOutcome.Satisfied;
        var env = new EvalEnv(request, entities);
        foreach (var condition in Conditions)
        {
            var value = condition.Body.Evaluate(ref env);
            if (env.Error is not null)
            {
                error = env.Error;
                return PolicyOutcome.Error;
            }
            if (value.Kind != CedarKind.Bool)
            {
                error = $"a {(condition.IsWhen ? "when" : "unless")} condition must be a Bool, not {value.Kind}";
                return PolicyOutcome.Error;
            }
            if (value.RawLong != 0 != condition.IsWhen)
                return PolicyOutcome.NotApplicable;
        }
        return PolicyOutcome.Satisfied;
    }
}

/// <summary>A <c>when</c> (holds when true) or <c>unless</c> (holds when false) block.</summary>
internal sealed record Condition(bool IsWhen, Expr Body);
