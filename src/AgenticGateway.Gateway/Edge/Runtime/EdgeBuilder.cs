using System.Collections.Frozen;
using System.Collections.Immutable;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Middlewares;
using AgenticGateway.Edge.Rules;
using Yarp.ReverseProxy.Forwarder;

namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// Builds an <see cref="EdgeSnapshot"/> from the dynamic configuration as Traefik does: names resolve within their
/// provider (<c>name</c> in a file means <c>name@file</c>), a router whose service or middleware is missing or broken
/// is disabled with its errors (shown by the API and logged) while the others serve, and every entry point gets the
/// gateway's own routers below any of the user's.
/// </summary>
internal sealed partial class EdgeBuilder(IServiceProvider services, IHttpForwarder forwarder, EdgeTransports transports, TimeProvider time, ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("AgenticGateway.Edge");

    /// <summary>The gateway's own services, by Traefik's naming; gateway@internal reaches every route.</summary>
    public static readonly ImmutableArray<string> InternalServices =
        ["gateway@internal", "llm@internal", "mcp@internal", "sandboxes@internal", "admin@internal", "ui@internal", "metrics@internal",
         "prometheus@internal", "api@internal", "dashboard@internal", "ping@internal", "noop@internal"];

    /// <summary>The lowest priority: the gateway's default router sits below every router a user writes.</summary>
    public const int DefaultRouterPriority = 1;

    public EdgeSnapshot Build(EdgeDynamicConfig config, GatewayOptions options, RequestDelegate gateway)
    {
        var statics = options.Edge;
        var http = config.Http;
        var built = new Dictionary<string, EdgeService>(StringComparer.Ordinal);
        var serviceErrors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var building = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in InternalServices) built[name] = Internal(name, gateway);

        EdgeService? Service(string reference, string provider, List<string> errors)
        {
            var full = FullName(reference, provider);
            if (built.TryGetValue(full, out var s)) return s;
            if (serviceErrors.TryGetValue(full, out var known)) { errors.AddRange(known); return null; }
            var local = LocalName(full, "file");
            if (local is null || !http.Services.TryGetValue(local, out var cfg)) { errors.Add($"the service \"{full}\" does not exist"); return null; }
            if (!building.Add(full)) { errors.Add($"the service \"{full}\" refers to itself (a cycle through weighted, mirroring or failover)"); return null; }
            var own = new List<string>();
            var service = Create(full, cfg, http.ServersTransports, own, (r, e) => Service(r, "file", e));
            building.Remove(full);
            if (service is null || own.Count > 0)
            {
                serviceErrors[full] = own;
                errors.AddRange(own);
                return null;
            }
            return built[full] = service;
        }

        // Entry points: the gateway's own listener, and each TCP one of the static configuration.
        var entryPoints = statics.EntryPoints.Values.Where(e => !e.Udp).ToList();
        var defaults = entryPoints.Where(e => e.AsDefault).Select(e => e.Name).ToList();
        if (defaults.Count == 0) defaults = entryPoints.Select(e => e.Name).ToList();
        if (entryPoints.Count == 0) defaults.Add(EdgeEntryPoint.Gateway);
        var routes = new Dictionary<string, List<EdgeRoute>>(StringComparer.Ordinal) { [EdgeEntryPoint.Gateway] = [] };
        foreach (var ep in entryPoints) routes[ep.Name] = [];

        var routerStatus = ImmutableArray.CreateBuilder<EdgeItemStatus>();
        var usedBy = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var middlewareErrors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, router) in http.Routers)
        {
            var full = name + "@file";
            var errors = new List<string>();
            var eps = router.EntryPoints.IsEmpty ? defaults : router.EntryPoints.ToList();
            foreach (var ep in eps)
                if (!routes.ContainsKey(ep)) errors.Add($"the entry point \"{ep}\" does not exist");
            var service = Service(router.Service, "file", errors);
            foreach (var ep in eps.Where(routes.ContainsKey))
            {
                var epConfig = statics.EntryPoints.GetValueOrDefault(ep);
                var middlewareNames = (epConfig?.DefaultMiddlewares ?? []).Concat(router.Middlewares).ToList();
                var chainErrors = new List<string>();
                var handler = service is null ? null : Chain(full, middlewareNames, service, config, options, chainErrors, usedBy, middlewareErrors, (r, e) => Service(r, "file", e));
                foreach (var e in chainErrors) if (!errors.Contains(e)) errors.Add(e);
                if (handler is null || errors.Count > 0) continue;
                var tls = router.Tls is not null || epConfig?.DefaultTls is not null;
                routes[ep].Add(new EdgeRoute(full, router.Matcher, router.EffectivePriority, tls, FullName(router.Service, "file"), handler));
            }
            foreach (var e in errors) Log.RouterError(_logger, full, e);
            routerStatus.Add(new EdgeItemStatus(full, "router", "file", errors.Count == 0 ? "enabled" : "disabled", [.. errors], [], router));
        }

        // Entry point redirections (Traefik's http.redirections.entryPoint) and the gateway's default router.
        foreach (var ep in entryPoints)
        {
            if (ep.Redirection is { } redirect)
            {
                var handler = Redirect(redirect, statics);
                routes[ep.Name].Add(new EdgeRoute($"{ep.Name}-to-{redirect.To}@internal", AnyHost, redirect.Priority, tls: false, "noop@internal", handler));
                routes[ep.Name].Add(new EdgeRoute($"{ep.Name}-to-{redirect.To}-tls@internal", AnyHost, redirect.Priority, tls: true, "noop@internal", handler));
            }
        }
        var gatewayRoute = built["gateway@internal"].InvokeAsync;
        routes[EdgeEntryPoint.Gateway].Add(new EdgeRoute("gateway@internal", AnyHost, DefaultRouterPriority, tls: false, "gateway@internal", c => gatewayRoute(c)));
        routes[EdgeEntryPoint.Gateway].Add(new EdgeRoute("gateway-tls@internal", AnyHost, DefaultRouterPriority, tls: true, "gateway@internal", c => gatewayRoute(c)));

        // Services nobody routes to are still built, so their errors and health show.
        foreach (var name in http.Services.Keys) Service(name, "file", []);

        var serviceStatus = ImmutableArray.CreateBuilder<EdgeItemStatus>();
        foreach (var (name, cfg) in http.Services)
        {
            var full = name + "@file";
            var errors = serviceErrors.GetValueOrDefault(full) ?? [];
            serviceStatus.Add(new EdgeItemStatus(full, "service", "file", errors.Count == 0 ? "enabled" : "disabled", [.. errors], [.. usedBy.GetValueOrDefault(full) ?? []], cfg));
        }
        var middlewareStatus = ImmutableArray.CreateBuilder<EdgeItemStatus>();
        foreach (var (name, cfg) in http.Middlewares)
        {
            var full = name + "@file";
            var errors = middlewareErrors.GetValueOrDefault(full) ?? [];
            middlewareStatus.Add(new EdgeItemStatus(full, "middleware", "file", errors.Count == 0 ? "enabled" : "disabled", [.. errors], [.. usedBy.GetValueOrDefault(full) ?? []], cfg));
        }

        var table = routes.ToFrozenDictionary(r => r.Key, r => new EntryPointRoutes(r.Key,
            // Highest priority first; Traefik breaks ties by rule order, so a stable sort keeps the file's order.
            [.. r.Value.OrderByDescending(x => x.Priority)],
            // The gateway's own listener keeps today's behaviour (the gateway reads forwarded headers as before); an
            // entry point trusts only whom its forwardedHeaders name, as Traefik's do.
            statics.EntryPoints.GetValueOrDefault(r.Key)?.ForwardedHeaders ?? (r.Key == EdgeEntryPoint.Gateway ? GatewayTrust : TrustedIpsConfig.None)), StringComparer.Ordinal);
        return new EdgeSnapshot(config, table, built.ToFrozenDictionary(StringComparer.Ordinal), routerStatus.ToImmutable(), serviceStatus.ToImmutable(), middlewareStatus.ToImmutable());
    }

    /// <summary>The router's middlewares around its service, built for this router (Traefik builds them per router).</summary>
    private RequestDelegate? Chain(string router, IReadOnlyList<string> names, EdgeService service, EdgeDynamicConfig config, GatewayOptions options, List<string> errors,
        Dictionary<string, List<string>> usedBy, Dictionary<string, List<string>> middlewareErrors, Func<string, List<string>, EdgeService?> serviceOf)
    {
        var stack = new Stack<string>();
        EdgeMiddleware? Middleware(string reference)
        {
            var full = FullName(reference, "file");
            var local = LocalName(full, "file");
            if (local is null || !config.Http.Middlewares.TryGetValue(local, out var cfg)) { errors.Add($"the middleware \"{full}\" does not exist"); return null; }
            if (stack.Contains(full)) { errors.Add($"the middleware \"{full}\" is part of a cycle: {string.Join(" -> ", stack.Reverse())} -> {full}"); return null; }
            if (!usedBy.TryGetValue(full, out var users)) usedBy[full] = users = [];
            if (!users.Contains(router)) users.Add(router);
            if (!EdgeMiddlewareTypes.All.TryGetValue(cfg.Type, out var type))
            {
                Fail(full, $"the middleware type \"{cfg.Type}\" is not supported");
                return null;
            }
            stack.Push(full);
            var own = new List<string>();
            var context = new EdgeBuildContext
            {
                Services = services,
                Router = router,
                Name = full,
                Service = name =>
                {
                    var s = serviceOf(name, own);
                    return s is null ? null : s.InvokeAsync;
                },
                Middleware = Middleware,
                Time = time,
                Loggers = loggers,
                Options = options,
            };
            var reader = new EdgeOptions(cfg.Options, own);
            EdgeMiddleware? built = null;
            try { built = type.Build(reader, context); }
            catch (Exception ex) when (ex is FormatException or ArgumentException or IOException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
            {
                own.Add($"{cfg.Options.Path}: {ex.Message}");
            }
            stack.Pop();
            if (own.Count > 0 || built is null)
            {
                foreach (var e in own) Fail(full, e);
                if (own.Count == 0) Fail(full, $"the middleware \"{full}\" could not be built");
                return null;
            }
            return built;

            void Fail(string name, string message)
            {
                errors.Add(message);
                if (!middlewareErrors.TryGetValue(name, out var list)) middlewareErrors[name] = list = [];
                if (!list.Contains(message)) list.Add(message);
            }
        }

        RequestDelegate handler = service.InvokeAsync;
        var chain = new List<EdgeMiddleware>();
        foreach (var name in names)
        {
            if (Middleware(name) is { } m) chain.Add(m);
        }
        if (errors.Count > 0) return null;
        for (var i = chain.Count - 1; i >= 0; i--) handler = chain[i](handler);
        return handler;
    }

    private EdgeService? Create(string full, HttpServiceConfig config, ImmutableDictionary<string, ServersTransportConfig> serversTransports, List<string> errors, Func<string, List<string>, EdgeService?> serviceOf)
    {
        switch (config)
        {
            case LoadBalancerConfig lb:
                if (lb.Servers.IsEmpty) { errors.Add($"{lb.Path}: the load balancer has no servers"); return null; }
                ServersTransportConfig? transport = null;
                if (lb.ServersTransport is { } t)
                {
                    var local = LocalName(FullName(t, "file"), "file");
                    if (local is null || !serversTransports.TryGetValue(local, out transport)) { errors.Add($"{lb.Path}.serversTransport: the servers transport \"{t}\" does not exist"); return null; }
                }
                return new LoadBalancerService(full, lb, forwarder, transports.For(transport), transport, _logger, time);
            case WeightedConfig w:
            {
                var children = new List<EdgeService>();
                foreach (var s in w.Services) if (serviceOf(s.Name, errors) is { } c) children.Add(c);
                return errors.Count > 0 ? null : new WeightedService(full, [.. children], [.. w.Services.Select(s => s.Weight)], w.Sticky, w.HealthCheck);
            }
            case FailoverConfig f:
            {
                var main = serviceOf(f.Service, errors);
                var fallback = serviceOf(f.Fallback, errors);
                return main is null || fallback is null ? null : new FailoverService(full, main, fallback, f.HealthCheck);
            }
            case MirroringConfig m:
            {
                var main = serviceOf(m.Service, errors);
                var mirrors = new List<(EdgeService, int)>();
                foreach (var mirror in m.Mirrors) if (serviceOf(mirror.Name, errors) is { } s) mirrors.Add((s, mirror.Percent));
                return main is null || errors.Count > 0 ? null : new MirroringService(full, main, [.. mirrors], m.MaxBodySize, m.MirrorBody, _logger);
            }
            default:
                errors.Add($"{config.Path}: unsupported service kind");
                return null;
        }
    }

    /// <summary>
    /// Every middleware's options checked by building it once (unknown fields, bad values, unknown types, chains to
    /// nothing), as Traefik refuses a file whose middleware options it cannot decode: a reload with such an error is not
    /// applied, and at start it stops the gateway, instead of disabling the routers that use the middleware.
    /// </summary>
    public List<string> CheckMiddlewares(EdgeDynamicConfig config, GatewayOptions options)
    {
        var errors = new List<string>();
        foreach (var (name, cfg) in config.Http.Middlewares)
        {
            if (!EdgeMiddlewareTypes.All.TryGetValue(cfg.Type, out var type))
            {
                errors.Add($"{cfg.Options.Path}: the middleware type \"{cfg.Type}\" is not supported");
                continue;
            }
            var context = new EdgeBuildContext
            {
                Services = services,
                Router = "(check)",
                Name = name + "@file",
                Service = _ => static _ => Task.CompletedTask,
                // A chain's members are checked on their own; here only that they exist.
                Middleware = reference => config.Http.Middlewares.ContainsKey(LocalName(FullName(reference, "file"), "file") ?? "") ? static next => next : null,
                Time = time,
                Loggers = loggers,
                Options = options,
            };
            var own = new List<string>();
            try { type.Build(new EdgeOptions(cfg.Options, own), context); }
            catch (Exception ex) when (ex is FormatException or ArgumentException or IOException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
            {
                own.Add($"{cfg.Options.Path}: {ex.Message}");
            }
            errors.AddRange(own);
        }
        return errors;
    }

    private static EdgeService Internal(string name, RequestDelegate gateway) => name switch
    {
        "noop@internal" => new FixedService(name, StatusCodes.Status418ImATeapot, null),
        "ping@internal" => new FixedService(name, StatusCodes.Status200OK, "OK"),
        _ => new InternalService(name, gateway),
    };

    private static RequestDelegate Redirect(RedirectionConfig redirect, EdgeStaticConfig statics)
    {
        var port = statics.EntryPoints.TryGetValue(redirect.To, out var target) ? target.EndPoint.Port : int.TryParse(redirect.To.TrimStart(':'), out var p) ? p : 443;
        var scheme = redirect.Scheme;
        var defaultPort = scheme == "https" ? 443 : 80;
        var status = redirect.Permanent ? StatusCodes.Status308PermanentRedirect : StatusCodes.Status307TemporaryRedirect;
        return context =>
        {
            var request = context.Request;
            var host = request.Host.Host;
            var authority = port == defaultPort ? host : $"{host}:{port}";
            if (host.Contains(':')) authority = port == defaultPort ? $"[{host}]" : $"[{host}]:{port}";
            context.Response.StatusCode = status;
            context.Response.Headers.Location = $"{scheme}://{authority}{request.PathBase}{request.Path}{request.QueryString}";
            return Task.CompletedTask;
        };
    }

    /// <summary>A reference as Traefik resolves it: <c>name@provider</c> as written, else in the referrer's provider.</summary>
    public static string FullName(string reference, string provider) => reference.Contains('@') ? reference : $"{reference}@{provider}";

    private static string? LocalName(string full, string provider)
    {
        var at = full.LastIndexOf('@');
        return at >= 0 && full.AsSpan(at + 1).SequenceEqual(provider) ? full[..at] : null;
    }

    private static readonly TrustedIpsConfig GatewayTrust = new([], Insecure: true);

    private static readonly HttpRule AnyHost = HttpRule.Parse("PathPrefix(`/`)", out _)!;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1903, Level = LogLevel.Warning, Message = "edge: router {Router} is disabled: {Error}")]
        public static partial void RouterError(ILogger logger, string router, string error);
    }
}

/// <summary>Traefik's ping@internal (200 "OK") and noop@internal (418, for routers whose middleware answers).</summary>
internal sealed class FixedService(string name, int status, string? body) : EdgeService(name)
{
    public override bool IsUp => true;

    public override Task InvokeAsync(HttpContext context)
    {
        context.Response.StatusCode = status;
        return body is null ? Task.CompletedTask : context.Response.WriteAsync(body);
    }
}
