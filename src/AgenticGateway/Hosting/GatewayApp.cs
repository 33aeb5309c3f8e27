using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.Observability;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using AgenticGateway.Spend;
using AgenticGateway.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using AgenticGateway.Services.Admin;
using AgenticGateway.Services.Llm;
using AgenticGateway.Services.Status;

namespace AgenticGateway.Hosting;

/// <summary>What the host starts with: validated options, where they came from, and where to listen.</summary>
internal sealed record GatewayStartOptions(GatewayOptions Options, string? ConfigPath, string Urls, IReadOnlyList<string> Warnings)
{
    /// <summary>Replaces services after the defaults are registered: a seam for tests (e.g. a resolver without DNS).</summary>
    public Action<IServiceCollection>? OverrideServices { get; init; }
    /// <summary>--insecure: the operator accepts an unauthenticated gateway on a network address.</summary>
    public bool Insecure { get; init; }
    /// <summary>--allow-unsupported: also for reloads of the config file.</summary>
    public bool AllowUnsupported { get; init; }
    /// <summary>--strict: also for reloads of the config file.</summary>
    public bool Strict { get; init; }
}

/// <summary>Builds the gateway's web application. Used by Program and by the functional tests alike.</summary>
internal static class GatewayApp
{
    /// <exception cref="DataDirectoryInUseException">Another gateway runs on the same data directory.</exception>
    public static WebApplication Build(GatewayStartOptions start)
    {
        // First of all: nothing may touch the data directory (database, spend log, sandbox state) that another gateway holds.
        var dataLock = DataDirectoryLock.Acquire(start.Options.Storage.DataDirectory);
        try { return Build(start, dataLock); }
        catch
        {
            dataLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The host's own options for every web application the gateway builds. No command-line arguments (the gateway
    /// parses its own), and no reload of appsettings.json: that reload watches the content root (the working directory)
    /// and everything under it, and the data directory is usually there (./data), so each write of the spend log and the
    /// database woke a FileSystemWatcher thread (an inotify event, a FileInfo, a directory scan: 3% of the CPU at full
    /// load). The gateway's configuration is its YAML file, watched by <see cref="ConfigWatcher"/>.
    /// </summary>
    internal static WebApplicationOptions HostOptions() => new() { Args = ["--hostBuilder:reloadConfigOnChange=false"] };

    private static WebApplication Build(GatewayStartOptions start, DataDirectoryLock dataLock)
    {
        var builder = WebApplication.CreateSlimBuilder(HostOptions());
        var options = start.Options;
        // Every way of starting the gateway passes here: no unauthenticated network listener without --insecure.
        if (ListenPolicy.Check(start.Urls, ListenPolicy.AuthRequired(options), start.Insecure) is { } refusal) throw new InvalidOperationException(refusal);
        // The edge's entry points reach the gateway's own services too (through its routers): the same rule holds for them.
        if (!options.Edge.EntryPoints.IsEmpty && ListenPolicy.Check(EdgeListeners.Urls(options.Edge), ListenPolicy.AuthRequired(options), start.Insecure) is { } edgeRefusal)
            throw new InvalidOperationException(edgeRefusal);
        // Held until the app is disposed (the container disposes what a factory returned once it is resolved, below).
        builder.Services.AddSingleton(_ => dataLock);

        builder.Logging.ClearProviders();
        if (options.Logging.Format == "json") builder.Logging.AddJsonConsole(o => { o.IncludeScopes = false; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        // The same lines, written in batches by one thread (the access log is a line per request).
        Observability.BatchedConsoleLoggerProvider.ReplaceConsoleLogger(builder.Logging);
        builder.Logging.SetMinimumLevel(options.Logging.Level);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // While this category is enabled at all, ASP.NET Core gives every request an Activity and a logging scope
        // (HostingApplicationDiagnostics.BeginRequest), and HttpClient then a child Activity and a traceparent header per
        // upstream call: about 1.5 KB and two W3C ids per request that nothing reads (the access log is ours, scopes are
        // not printed). With tracing configured, OpenTelemetry's listener still makes the server and client spans.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        // The MCP SDK logs every request's handler start and end, and each client call, at Information: three lines per
        // tool call beside the access line and the gateway's own line for it. Its warnings and errors still show.
        builder.Logging.AddFilter("ModelContextProtocol", LogLevel.Warning);
        // YARP logs two lines per proxied request at Information; the edge writes its own access line.
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);

        if (EdgeListeners.Needed(options)) builder.WebHost.ConfigureKestrel(k => EdgeListeners.Configure(k, start.Urls, options.Edge));
        else builder.WebHost.UseUrls(start.Urls);
        // Run request continuations inline on the transport's I/O thread rather than queueing them: the handlers never
        // block, and on few cores the hand-off dominates (see bench/README.md).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // The handler enforces the configured limit (it can change on reload) and answers 413 itself after
            // draining a bounded amount; Kestrel's limit is the hard stop beyond that.
            k.Limits.MaxRequestBodySize = RequestBody.DrainLimit(options.Server.MaxRequestBodyBytes);
            // Kestrel's own 400/408/414/431 answers get a JSON body too.
            k.ConfigureEndpointDefaults(RejectionBodies.Use);
        });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, GatewayJsonContext.Default));
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Agentic Gateway";
            doc.Info.Version = Telemetry.TelemetryNames.Version;
            doc.Info.Description = "OpenAI-compatible LLM gateway: chat completions, completions, embeddings and models over many providers.";
            return Task.CompletedTask;
        }));

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new GatewayStart(System.Diagnostics.Stopwatch.GetTimestamp()));
        // Tracing is set up once at start (the provider starts with the host and is flushed when it is disposed).
        Observability.GatewayTracing.Add(builder.Services, options.Tracing);
        builder.Services.AddSingleton(new HttpMessageInvoker(CreateNetworkHandler(), disposeHandler: true));
        builder.Services.AddSingleton<IInProcessProvider, Emulator.InProcessMockProvider>();
        builder.Services.AddSingleton(sp => new RuntimeBuilder(sp.GetRequiredService<HttpMessageInvoker>(), sp.GetRequiredService<IInProcessProvider>()));
        builder.Services.AddSingleton(sp => new RuntimeHolder(sp.GetRequiredService<RuntimeBuilder>(), options));
        AddStorage(builder.Services, options.Storage);
        builder.Services.AddSingleton<IKeyStore, SqlKeyStore>();
        builder.Services.AddSingleton<IIdentityStore, IdentityStore>();
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<KeyRegistry>();
        builder.Services.AddSingleton<IdentityManager>();
        builder.Services.AddSingleton<OrganizationManager>();
        builder.Services.AddSingleton<JwtAuthenticator>();
        builder.Services.AddSingleton<ClientAuth>();
        builder.Services.AddSingleton<KeyManager>();
        AddModelManagement(builder.Services);
        builder.Services.AddSingleton<PrometheusExporter>();
        if (options.Server.MetricsUrls is { } metricsUrls)
        {
            builder.Services.AddSingleton(sp => new MetricsListener(metricsUrls, sp.GetRequiredService<PrometheusExporter>(), sp.GetRequiredService<ILogger<MetricsListener>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<MetricsListener>());
        }
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<ResponseRelay>();
        builder.Services.AddSingleton<UpstreamDispatcher>();
        builder.Services.AddSingleton<LlmService>();
        builder.Services.AddSingleton<Guardrails.Remote.RemoteGuardrailHttp>();
        builder.Services.AddSingleton<Guardrails.IGuardrailTypes, Guardrails.Remote.RemoteGuardrailTypes>();
        // MCP and sandbox guardrails, over the runner when one is registered (null otherwise: the services check nothing).
        builder.Services.AddSingleton<Pipeline.IContentGuardrails>(sp => sp.GetService<Guardrails.IGuardrailRunner>() is { } runner ? new Guardrails.ContentGuardrails(runner) : null!);
        Caching.CacheServices.Add(builder.Services);
        builder.Services.AddSingleton<Services.Passthrough.PassthroughForwarder>();
        builder.Services.AddSingleton<Edge.Middlewares.IGatewayEdgeAccess, EdgeGatewayAccess>();
        builder.Services.AddSingleton<Responses.IResponseStore, Responses.ResponseStore>();
        builder.Services.AddHostedService<Services.Responses.ResponsePurge>();
        builder.Services.AddSingleton<Pipeline.Middlewares.InFlightMiddleware>();
        builder.Services.AddSingleton<Pipeline.Middlewares.BudgetMiddleware>();
        builder.Services.AddSingleton<Pipeline.Middlewares.RateLimitMiddleware>();
        builder.Services.AddSingleton<RouterChains>();
        Guardrails.GuardrailEndpoints.AddGuardrails(builder.Services, Safety.Guardrails.TextDetectors.Create);
        Policies.PolicyEndpoints.AddRoutingPolicies(builder.Services);
        Caching.CacheMiddleware.AddCache(builder.Services);
        builder.Services.AddSingleton(new RecentRequests());
        AddSandboxes(builder.Services, options);
        Services.Mcp.McpEndpoints.AddMcpGateway(builder.Services);
        Services.Containers.ContainerEndpoints.AddContainers(builder.Services);
        Services.Responses.ResponsesEndpoints.AddResponses(builder.Services);
        if (options.Edge.IsEnabled) AddEdge(builder.Services, options, start.ConfigPath);
        start.OverrideServices?.Invoke(builder.Services);
        if (start.ConfigPath is not null)
        {
            // A reload may not turn authentication off while the gateway listens on the network.
            builder.Services.AddSingleton(sp => new ConfigWatcher(start.ConfigPath, sp.GetRequiredService<RuntimeHolder>(), sp.GetRequiredService<ILogger<ConfigWatcher>>(),
                start.AllowUnsupported, next => ListenPolicy.Check(start.Urls, ListenPolicy.AuthRequired(next), start.Insecure, reload: true), sp.GetRequiredService<TimeProvider>(), start.Strict));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<ConfigWatcher>());
        }
        // Drain streams in flight on shutdown (SIGTERM) before stopping.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        var app = builder.Build();
        app.Services.GetRequiredService<DataDirectoryLock>();
        // The file provider's files are read now: their errors stop the start with every one listed (EdgeConfigException).
        if (app.Services.GetService<Edge.Runtime.EdgeProviderFiles>() is { } edgeFiles)
        {
            // And every middleware's options, so a typo stops the start instead of disabling routers.
            var merged = Edge.Runtime.EdgeMerge.Merge(options.Edge.Inline, edgeFiles.Current, out _);
            if (app.Services.GetRequiredService<Edge.Runtime.EdgeBuilder>().CheckMiddlewares(merged, options) is { Count: > 0 } middlewareErrors)
                throw new Edge.Runtime.EdgeConfigException(middlewareErrors);
        }
        GatewayPipeline.Use(app, GatewayEndpoints.Map, options.Edge.IsEnabled ? (typeof(Edge.Runtime.EdgeStep), typeof(Edge.Runtime.EdgeInternalGuard)) : null,
            Services.Sandboxes.Hosts.SandboxHosts.Step(options.Sandboxes));
        RegisterGauges(app);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AgenticGateway");
        foreach (var warning in start.Warnings) Log.ConfigWarning(logger, warning);
        if (!ListenPolicy.AuthRequired(options))
        {
            if (ListenPolicy.IsLoopbackOnly(start.Urls)) Log.OpenOnLoopbackOnly(logger, start.Urls);
            else Log.OpenOnNetwork(logger, start.Urls);
        }
        if (options.Jwt is { JwksUrls.Length: > 0, Issuer: null, Audience: null }) Log.JwtUnscoped(logger);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var urls = string.Join(", ", BoundAddresses(app));
            // The database's models were loaded before the server started (StoredModels.StartAsync) and are served
            // beside the file's: a count of the file's alone would under-report what is served.
            var served = app.Services.GetRequiredService<RuntimeHolder>().Current.Options.Deployments.Length;
            if (options.StoreModelInDb)
                Log.StartedWithStored(logger, Telemetry.TelemetryNames.Version, urls, served, options.Deployments.Length, options.Source, served - options.Deployments.Length);
            else Log.Started(logger, Telemetry.TelemetryNames.Version, urls, options.Deployments.Length, options.Source);
        });
        return app;
    }

    /// <summary>
    /// The edge (entry points, routers, middlewares, services in Traefik's shape): only when configured, so a gateway
    /// without it pays nothing on its request path.
    /// </summary>
    private static void AddEdge(IServiceCollection services, GatewayOptions options, string? configPath)
    {
        services.AddHttpForwarder();
        services.AddSingleton<Edge.Runtime.EdgeTransports>();
        services.AddSingleton<Edge.Runtime.EdgeBuilder>();
        // Relative paths in providers.file are read from the config file's folder, as the config file's own are.
        var baseDirectory = configPath is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(configPath))!;
        services.AddSingleton(sp => new Edge.Runtime.EdgeProviderFiles(options, baseDirectory, sp.GetRequiredService<ILogger<Edge.Runtime.EdgeProviderFiles>>()));
        services.AddHostedService(sp => sp.GetRequiredService<Edge.Runtime.EdgeProviderFiles>());
        services.AddSingleton<Edge.Runtime.EdgeHolder>();
        services.AddHostedService(sp => sp.GetRequiredService<Edge.Runtime.EdgeHolder>());
        // Traefik's metrics and the edge's access log (metrics.prometheus is start-up only, as in Traefik).
        services.AddSingleton(sp => new Edge.Observability.EdgeTelemetry(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), options.Edge.Prometheus, sp.GetRequiredService<ILoggerFactory>()));
        // UDP entry points: datagrams to the UDP routers' services, per-client sessions.
        foreach (var udp in options.Edge.EntryPoints.Values.Where(e => e.Udp))
            services.AddSingleton<IHostedService>(sp => new Edge.Tcp.UdpEntryPoint(udp, () => sp.GetRequiredService<Edge.Runtime.EdgeHolder>().TcpSnapshot,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("AgenticGateway.Edge.Udp")));
        // ACME (certificatesResolvers): certificates kept in the database, so replicas share them and one orders each.
        services.AddSingleton(sp => new Edge.AcmeStore(sp.GetRequiredService<IDatabase>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<Edge.Acme.AcmeChallenges>();
        services.AddSingleton<Edge.Acme.AcmeCertificates>();
        services.AddSingleton<Edge.Acme.AcmeHttpChallenge>();
        services.AddSingleton<Edge.Acme.AcmeTlsChallenge>();
        if (!options.Edge.CertificatesResolvers.IsEmpty)
        {
            services.AddSingleton(sp => new Edge.Acme.AcmeManager(sp.GetRequiredService<Edge.AcmeStore>(), sp.GetRequiredService<Edge.Acme.AcmeChallenges>(),
                sp.GetRequiredService<Edge.Acme.AcmeCertificates>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Edge.Acme.AcmeManager>>()));
            services.AddHostedService(sp => sp.GetRequiredService<Edge.Acme.AcmeManager>());
        }
    }

    /// <summary>
    /// The database (SQLite unless database_url names PostgreSQL), the spend pipeline (write-ahead file, bounded queue,
    /// batching writer), and the limit counters (in memory, shared through Redis when redis_url is set).
    /// </summary>
    private static void AddStorage(IServiceCollection services, StorageOptions storage)
    {
        if (storage.DatabaseUrl.IsSet) services.AddSingleton<IDatabase>(_ => new PostgresDatabase(storage.DatabaseUrl.Value!));
        else services.AddSingleton<IDatabase>(SqliteDatabase.ForDataDirectory(storage.DataDirectory));
        services.AddSingleton<SpendStore>();
        var queue = SpendWriter.CreateQueue();
        services.AddSingleton(queue);
        services.AddSingleton(_ => new SpendWal(storage.DataDirectory, queue.Writer));
        services.AddSingleton<SpendWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<SpendWriter>());
        services.AddSingleton<SpendRecorder>();
        // Routing decisions (policy routing): a bounded queue the request path writes to without waiting, and its writer.
        services.AddSingleton<Routing.RoutingDecisionStore>();
        services.AddSingleton<Routing.RoutingDecisionWriter>();
        services.AddSingleton<Policies.IRoutingDecisionSink>(sp => sp.GetRequiredService<Routing.RoutingDecisionWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<Routing.RoutingDecisionWriter>());
        services.AddSingleton(sp => new Routing.RoutingDecisionRetention(sp.GetRequiredService<Routing.RoutingDecisionStore>(),
            () => sp.GetRequiredService<Runtime.RuntimeHolder>().Configured.RoutingPolicies?.DecisionRetention,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Routing.RoutingDecisionRetention>>()));
        services.AddHostedService(sp => sp.GetRequiredService<Routing.RoutingDecisionRetention>());
        services.AddSingleton<MemoryRateLimitStore>();
        services.AddSingleton<MemoryBudgetCounters>();
        if (storage.RedisUrl.IsSet)
            services.AddSingleton(sp => new RedisConnection(storage.RedisUrl.Value!, storage.RedisFailOpen, storage.RedisTimeout, sp.GetRequiredService<ILogger<RedisConnection>>()));
        services.AddSingleton<BudgetAlerts>();
        services.AddHostedService(sp => sp.GetRequiredService<BudgetAlerts>());
        services.AddSingleton<ParallelRequests>();
        services.AddSingleton<Budgets>();
        services.AddSingleton<RateLimits>();
    }

    /// <summary>
    /// Models stored in the database (store_model_in_db): their credentials encrypted with LITELLM_SALT_KEY or the master
    /// key, loaded into the runtime at start and whenever another replica changes them, and LiteLLM's /model/* API.
    /// </summary>
    private static void AddModelManagement(IServiceCollection services)
    {
        var salt = Models.ModelSecrets.SaltKeyFromEnvironment();
        services.AddSingleton(sp =>
        {
            var runtimes = sp.GetRequiredService<RuntimeHolder>();
            return new Models.ModelSecrets(() => salt ?? runtimes.Current.Options.MasterKey.Value);
        });
        services.AddSingleton<Models.ModelStore>();
        services.AddSingleton(Services.Models.ModelSyncOptions.Default);
        services.AddSingleton<Services.Models.StoredModels>();
        services.AddHostedService(sp => sp.GetRequiredService<Services.Models.StoredModels>());
        services.AddSingleton<Services.Models.ModelManager>();
    }

    /// <summary>
    /// The sandbox gateway: the driver named in config, the manager (lifecycle, pool, quotas), the API's helpers, and
    /// the built-in <c>sandbox</c> MCP server over the same manager.
    /// </summary>
    private static void AddSandboxes(IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton<Sandboxes.Egress.IEgressResolver, Sandboxes.Egress.SystemEgressResolver>();
        services.AddSingleton(sp => new Sandboxes.Egress.EgressProxy(options.Sandboxes.Egress, sp.GetRequiredService<Sandboxes.Egress.IEgressResolver>(),
            sp.GetRequiredService<ILogger<Sandboxes.Egress.EgressProxy>>()));
        Sandboxes.ISandboxDriver Driver(IServiceProvider sp, string name) => name switch
        {
            "firecracker" => new Sandboxes.Firecracker.FirecrackerDriver(options.Sandboxes.Firecracker, options.Storage.DataDirectory,
                sp.GetRequiredService<ILogger<Sandboxes.Firecracker.FirecrackerDriver>>()),
            "qemu" => new Sandboxes.Qemu.QemuDriver(options.Sandboxes.Qemu, options.Storage.DataDirectory,
                sp.GetRequiredService<ILogger<Sandboxes.Qemu.QemuDriver>>()),
            _ => new Sandboxes.Bubblewrap.BubblewrapDriver(options.Storage.DataDirectory, sp.GetRequiredService<Sandboxes.Egress.EgressProxy>(),
                sp.GetRequiredService<ILogger<Sandboxes.Bubblewrap.BubblewrapDriver>>()),
        };
        services.AddSingleton<Sandboxes.SandboxMetrics>();
        Services.Sandboxes.Hosts.SandboxHosts.Add(services, options.Sandboxes);
        services.AddSingleton(sp => new Sandboxes.SandboxManager(options.Sandboxes, options.Sandboxes.OfferedDrivers.ToDictionary(n => n, n => Driver(sp, n)),
            sp.GetRequiredService<Sandboxes.SandboxMetrics>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Sandboxes.SandboxManager>>(),
            Path.Combine(options.Storage.DataDirectory, "sandbox-state"), sp.GetService<Sandboxes.ISandboxCluster>()));
        services.AddHostedService(sp => sp.GetRequiredService<Sandboxes.SandboxManager>());
        services.AddSingleton<Services.Sandboxes.SandboxHttp>();
        services.AddSingleton(sp => Services.E2b.E2bTokenKey.Load(options.Storage.DataDirectory, sp.GetRequiredService<ILogger<Services.E2b.E2bTokenKey>>()));
        services.AddSingleton<Services.E2b.E2bSandboxes>();
        services.AddSingleton(sp => new Sandboxes.Templates.TemplateStore(options.Storage.DataDirectory, sp.GetRequiredService<Sandboxes.SandboxManager>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Sandboxes.Templates.TemplateStore>>()));
        services.AddSingleton(sp => new Services.E2b.E2bTemplateFiles(options.Storage.DataDirectory, options.Sandboxes.MaxFileBytes,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Services.E2b.E2bTemplateFiles>>()));
        services.AddSingleton<Services.E2b.E2bPendingBuilds>();
        services.AddSingleton<Services.Mcp.SandboxToolServer>();
    }

    /// <summary>The addresses Kestrel actually bound (port 0 resolved).</summary>
    public static IReadOnlyList<string> BoundAddresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>One pooled handler for all providers: many concurrent streams, HTTP/1.1 and HTTP/2, no decompression.</summary>
    private static SocketsHttpHandler CreateNetworkHandler() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        MaxConnectionsPerServer = int.MaxValue,
        EnableMultipleHttp2Connections = true,
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        KeepAlivePingDelay = TimeSpan.FromSeconds(30),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(15),
    };

    private static void RegisterGauges(WebApplication app)
    {
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        var runtimes = app.Services.GetRequiredService<RuntimeHolder>();
        var spend = app.Services.GetRequiredService<SpendWriter>();
        var redis = app.Services.GetService<RedisConnection>();
        var sandboxes = app.Services.GetRequiredService<Sandboxes.SandboxManager>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        if (app.Services.GetService<Edge.Runtime.EdgeHolder>() is { } edge)
            Edge.Api.EdgeStatusMetrics.Register(exporter, edge, app.Services.GetRequiredService<Edge.Observability.EdgeTelemetry>(), time);
        exporter.AddGauges(() =>
        {
            var samples = new List<PrometheusExporter.GaugeSample>
            {
                new("gateway_spend_queue_depth", "Spend logs waiting for the database writer.", spend.Pending, []),
            };
            if (sandboxes.Unavailable is null)
            {
                samples.Add(new("sandbox_active", "Sandboxes in use (pooled ones not counted).", sandboxes.Active, []));
                foreach (var runtime in sandboxes.Options.Pools.Keys)
                    samples.Add(new("sandbox_pool_ready", "Ready sandboxes waiting in the warm pool.", sandboxes.PoolReady(runtime), [("runtime", runtime)]));
            }
            if (redis is not null)
                samples.Add(new("gateway_redis_up", "1 while the shared limit store (Redis) is reachable; 0 while limits fall back to this node.", redis.IsUp ? 1 : 0, []));
            return samples;
        });
        exporter.AddGauges(() =>
        {
            var now = time.GetUtcNow().UtcTicks;
            return runtimes.Current.AllDeployments.SelectMany(d => new[]
            {
                new PrometheusExporter.GaugeSample("llm_deployment_state", "1 when the deployment takes traffic, 0 while it cools down after failures.",
                    d.State.IsCoolingDown(now) ? 0 : 1, [("provider", d.ProviderName), ("model", d.GroupName), ("deployment", d.Id)]),
                new PrometheusExporter.GaugeSample("llm_deployment_in_flight", "Requests in flight per deployment.",
                    d.State.InFlight, [("provider", d.ProviderName), ("model", d.GroupName), ("deployment", d.Id)]),
            });
        });
    }
}
