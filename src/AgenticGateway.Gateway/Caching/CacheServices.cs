using AgenticGateway.Caching.Api;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AgenticGateway.Caching;

/// <summary>
/// The cache's services. Always registered (each costs nothing while the cache is off: the stores are built on first
/// use for the configuration in force, so a reload may turn the cache on). TryAdd: the middleware's registration and
/// this one may both run.
/// </summary>
internal static class CacheServices
{
    public static void Add(IServiceCollection services)
    {
        services.TryAddSingleton<CacheStores>();
        services.TryAddSingleton<CacheStatistics>();
        services.TryAddSingleton<ICacheStatistics>(sp => sp.GetRequiredService<CacheStatistics>());
        services.TryAddSingleton<SemanticCache>();
        services.TryAddSingleton<ISemanticLookup>(sp => sp.GetRequiredService<SemanticCache>());
    }

    public static void Map(IEndpointRouteBuilder routes) => CacheApi.Map(routes);
}
