using System.Collections.Frozen;
using AgenticGateway.Configuration;
using AgenticGateway.Pipeline.Middlewares;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Each router's middlewares as instances, in configuration order, built once per configuration snapshot (a reload
/// builds them anew). Middleware types are chosen by name.
/// </summary>
internal sealed class RouterChains(InFlightMiddleware inFlight, BudgetMiddleware budget, RateLimitMiddleware rateLimit, IServiceProvider services)
{
    private volatile Built? _built;

    private sealed record Built(PipelineOptions Options, FrozenDictionary<string, IRouterMiddleware[]> Chains);

    public IRouterMiddleware[] For(PipelineOptions options, string router)
    {
        var built = _built;
        if (built is null || !ReferenceEquals(built.Options, options)) _built = built = new Built(options, Build(options));
        return built.Chains.TryGetValue(router, out var chain) ? chain : [];
    }

    private FrozenDictionary<string, IRouterMiddleware[]> Build(PipelineOptions options) =>
        options.Routers.ToFrozenDictionary(r => r.Key, r => r.Value.Middlewares.Select(name => Create(options.Middlewares[name])).ToArray(), StringComparer.Ordinal);

    private IRouterMiddleware Create(MiddlewareDefinition definition) => definition.Type switch
    {
        InFlightMiddleware.Type => inFlight,
        BudgetMiddleware.Type => budget,
        RateLimitMiddleware.Type => rateLimit,
        // Middlewares of folders that build on Pipeline/ (guardrails, cache) are registered as keyed services under
        // their type name, so the chain finds them without referencing them.
        _ => services.GetKeyedService<IRouterMiddleware>(definition.Type)
            ?? throw new InvalidOperationException($"unknown middleware type '{definition.Type}'"),
    };
}
