namespace AgenticGateway.Cedar;

/// <summary>
/// What an expression evaluates against. Errors are recorded here rather than thrown, so a policy that reads an absent
/// attribute (common: <c>context.latency_sla_ms</c> without a SLA) costs no exception; every node returns at once
/// when <see cref="Error"/> is set.
/// </summary>
internal struct EvalEnv(in CedarRequest request, IEntityStore store)
{
    public readonly ICedarEntity Principal = request.Principal;
    public readonly ICedarEntity Action = request.Action;
    public readonly ICedarEntity Resource = request.Resource;
    public readonly CedarRecord Context = request.Context;
    public readonly IEntityStore Store = store;
    public string? Error;

    public CedarValue Fail(string message)
    {
        Error ??= message;
        return default;
    }
}

/// <summary>A compiled expression.</summary>
internal abstract class Expr
{
    public abstract CedarValue Evaluate(ref EvalEnv env);
}
