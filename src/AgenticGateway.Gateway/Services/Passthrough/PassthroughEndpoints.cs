using AgenticGateway.Configuration;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.Passthrough;

/// <summary>The pass-through routes: each provider's native API under its prefix, and the configured pass_through_endpoints.</summary>
internal static class PassthroughEndpoints
{
    public static void Map(WebApplication app, GatewayOptions options)
    {
        var forwarder = app.Services.GetRequiredService<PassthroughForwarder>();
        foreach (var route in ProviderPassthrough.All)
        {
            // The forwarder identifies the caller itself: Gemini's SDKs send the key where the pipeline does not look (?key=).
            var meta = new GatewayRoute(GatewayRoute.LlmRouter, "pass_through", RouteAuth.None, AnthropicErrors: route.AnthropicErrors);
            app.Map(route.Prefix + "/{**rest}", (HttpContext c) => forwarder.ProviderAsync(c, route)).Gateway(meta)
                .WithName("passthrough" + route.Prefix).WithSummary($"{route.Catalog}'s native API, passed through with the gateway's {route.Catalog} credential");
        }
        foreach (var endpoint in options.PassThroughEndpoints)
        {
            var meta = new GatewayRoute(GatewayRoute.LlmRouter, "pass_through", RouteAuth.None);
            var patterns = endpoint.IncludeSubpath ? new[] { endpoint.Path, endpoint.Path.TrimEnd('/') + "/{**rest}" } : [endpoint.Path];
            foreach (var pattern in patterns)
            {
                var built = endpoint.Methods.IsEmpty
                    ? app.Map(pattern, (HttpContext c) => forwarder.EndpointAsync(c, endpoint))
                    : app.MapMethods(pattern, endpoint.Methods, (HttpContext c) => forwarder.EndpointAsync(c, endpoint));
                // A configured endpoint on a path the gateway serves itself (LiteLLM's example puts one on /v1/rerank) is
                // what its operator asked for: it wins over the built-in route.
                built.Gateway(meta).WithOrder(-1).ExcludeFromDescription();
            }
        }
    }
}
