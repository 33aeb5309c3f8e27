using System.Collections.Concurrent;
using AgenticGateway.Configuration;
using AgenticGateway.Providers;
using AgenticGateway.Providers.OpenAiResponses;
using AgenticGateway.Routing;

namespace AgenticGateway.Runtime;

/// <summary>
/// Turns validated options into a <see cref="GatewayRuntime"/>: groups with their strategies, resolved fallbacks and
/// aliases, and each deployment's transport (the network, or for the mock provider the in-process one the host
/// supplies). Deployment state is looked up by id so it survives reloads.
/// </summary>
internal sealed class RuntimeBuilder(HttpMessageInvoker network, IInProcessProvider? inProcess = null)
{
    private readonly ConcurrentDictionary<string, DeploymentState> _states = new(StringComparer.Ordinal);
    private readonly ProviderTranslators _translators = new(network);

    /// <param name="storedIds">The deployments that came from the database (model management), not the config file.</param>
    public GatewayRuntime Build(GatewayOptions options, System.Collections.Frozen.FrozenSet<string>? storedIds = null)
    {
        var groups = new List<ModelGroup>();
        foreach (var byName in options.Deployments.GroupBy(d => d.ModelName, StringComparer.Ordinal))
        {
            var deployments = byName.Select(CreateDeployment).ToArray();
            var strategyName = options.Router.GroupStrategies.TryGetValue(byName.Key, out var s) ? s : options.Router.Strategy;
            groups.Add(new ModelGroup(byName.Key, deployments, RoutingStrategies.Create(strategyName)));
        }

        var byGroupName = groups.Where(g => g.WildcardPrefix is null).ToDictionary(g => g.Name, StringComparer.Ordinal);
        var aliases = new Dictionary<string, (ModelGroup, bool, string)>(StringComparer.Ordinal);
        var preliminary = new ModelCatalog(groups, aliases, []);
        foreach (var (alias, target) in options.Aliases)
        {
            if (preliminary.TryResolve(target.Target, out var g)) aliases[alias] = (g, target.Hidden, target.Target);
        }
        var lookup = new ModelCatalog(groups, aliases, []);
        GroupTarget[] Resolve(IEnumerable<string> names) =>
            [.. names.Where(n => lookup.TryResolve(n, out _)).Select(n => { lookup.TryResolve(n, out var g); return new GroupTarget(g, lookup.WildcardName(n)); })];

        foreach (var g in groups)
        {
            if (options.Router.Fallbacks.TryGetValue(g.Name, out var f)) g.Fallbacks = Resolve(f);
            if (options.Router.ContextWindowFallbacks.TryGetValue(g.Name, out var cw)) g.ContextWindowFallbacks = Resolve(cw);
            if (options.Router.ContentPolicyFallbacks.TryGetValue(g.Name, out var cp)) g.ContentPolicyFallbacks = Resolve(cp);
        }
        // Fallbacks keyed by an alias apply to the group it names.
        foreach (var (alias, (group, _, _)) in aliases)
        {
            if (group.Fallbacks.Length == 0 && options.Router.Fallbacks.TryGetValue(alias, out var f)) group.Fallbacks = Resolve(f);
        }
        var catalog = new ModelCatalog(groups, aliases, Resolve(options.Router.DefaultFallbacks));
        return new GatewayRuntime(options, catalog) { StoredIds = storedIds ?? System.Collections.Frozen.FrozenSet<string>.Empty };
    }

    private Deployment CreateDeployment(DeploymentOptions options)
    {
        ProviderCatalog.TryGet(options.Provider, out var provider);
        var state = _states.GetOrAdd(options.Id, static _ => new DeploymentState());
        var invoker = provider.Wire == ProviderWire.Mock && inProcess is not null
            ? new HttpMessageInvoker(inProcess.CreateHandler(options), disposeHandler: true)
            : network;
        var responsesUri = ResponsesEndpoints.For(options, provider);
        // A Responses-only deployment takes chat through its Responses API (responsesUri is set: BridgesChat needs an OpenAI wire).
        var translator = responsesUri is not null && ResponsesEndpoints.BridgesChat(options, provider)
            ? new ResponsesApiTranslator(responsesUri)
            : _translators.For(options, provider);
        return new Deployment(options, provider, invoker, state) { Translator = translator, Reranker = _translators.RerankerFor(provider), ResponsesUri = responsesUri };
    }
}
