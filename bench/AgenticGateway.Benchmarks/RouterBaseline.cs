using AgenticGateway.Configuration;
using AgenticGateway.Routing;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// The router's own decision without policies, for the policy benchmarks' same-run baseline (bench/README.md: a ratio
/// against a baseline measured in the same run, because the shared 2-core machines are noisy). The same 3 deployments
/// as the policy benchmarks (ids, providers, models, prices, tags), in one model group with the default strategy
/// (simple-shuffle, as a group without routing_strategy gets), and the dispatcher's pick without tag filtering (the
/// default): the clock read, the routing input, and <see cref="ModelGroup.Pick(ulong, ulong, in RoutingInput, long, out bool)"/>.
/// </summary>
internal sealed class RouterBaseline
{
    private static readonly HttpMessageInvoker Unused = new(new HttpClientHandler());
    private readonly ModelGroup _group;

    /// <param name="deployments">(options, run-time state) of each deployment: the state the policy side reads too.</param>
    public RouterBaseline(IEnumerable<(DeploymentOptions Options, DeploymentState State)> deployments)
    {
        _group = new ModelGroup("smart", [.. deployments.Select(d =>
        {
            if (!ProviderCatalog.TryGet(d.Options.Provider, out var provider))
                throw new InvalidOperationException($"unknown provider {d.Options.Provider}");
            return new Deployment(d.Options, provider, Unused, d.State);
        })], new SimpleShuffleStrategy());
    }

    /// <summary>The deployment of the three whose options are used by <see cref="CedarBenchmarks"/>' entities.</summary>
    public static DeploymentOptions Options(string id, string provider, string model, decimal input, decimal output, string[] tags) => new()
    {
        Id = id, ModelName = "smart", Provider = provider, Model = model, ApiBase = new Uri("http://localhost/"), MaxInputTokens = 128_000,
        Price = new Pricing.ModelPrice { InputPerToken = input, OutputPerToken = output }, Tags = [.. tags],
    };

    /// <summary>One request's pick, as UpstreamDispatcher makes it when no routing_policies are configured.</summary>
    public int Pick(bool stream)
    {
        var nowTicks = TimeProvider.System.GetUtcNow().UtcTicks;
        var input = new RoutingInput(stream, nowTicks / TimeSpan.TicksPerMinute);
        return _group.Pick(0, ulong.MaxValue, input, nowTicks, out _);
    }
}
