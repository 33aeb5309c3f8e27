using System.Text.Json;
using AgenticGateway.Keys;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using AgenticGateway.Sandboxes;
using AgenticGateway.Spend;
using AgenticGateway.Observability;
using AgenticGateway.Services.Admin;
using AgenticGateway.Pricing;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Ui;

/// <summary>
/// The admin UI at /ui: its embedded files, and the JSON it reads beyond the management APIs (/key/*, /team/*,
/// /spend/*), under /ui/api/. Every /ui/api route takes the master key only (401 without a valid key, 403 for
/// any other), answering errors in the OpenAI shape like the rest of the gateway. The pages themselves are public:
/// they hold no data until the master key is entered.
/// </summary>
internal static class UiEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var assets = UiAssets.Load();
        var runtimes = services.GetRequiredService<RuntimeHolder>();
        var recent = services.GetRequiredService<RecentRequests>();
        var sandboxes = services.GetRequiredService<SandboxManager>();
        var identities = services.GetRequiredService<IIdentityStore>();
        var time = services.GetRequiredService<TimeProvider>();
        var keys = services.GetRequiredService<IKeyStore>();
        var server = services.GetRequiredService<IServer>();
        static RequestDelegate Admin(Func<HttpContext, KeyRequest, CancellationToken, Task<KeyResult>> action) =>
            c => KeyEndpoints.AdminAsync(c, BindContext(action, c));

        // The pages hold no data: public. Their data comes from /ui/api, the admin's alone.
        var pages = routes.MapGroup("").Gateway(GatewayRoute.Public);
        pages.MapGet("/ui", async (HttpContext c) => { await assets.ServeAsync(c, "index.html"); }).ExcludeFromDescription();
        pages.MapGet("/ui/{file}", async (HttpContext c, string file) =>
        {
            if (!await assets.ServeAsync(c, file))
                await PipelineErrors.WriteAsync(c, new ApiError(404, $"Unknown route: GET {c.Request.Path}", "invalid_request_error", "unknown_url"));
        }).ExcludeFromDescription();

        var app = routes.MapGroup("").Gateway(GatewayRoute.Admin);
        var api = "/ui/api";
        app.MapGet(api + "/session", Admin((_, _, _) => Task.FromResult(Session(sandboxes)))).WithSummary("Admin UI: check the master key");
        app.MapGet(api + "/overview", Admin((_, r, _) => Task.FromResult(Overview(r, recent, time)))).WithSummary("Admin UI: request, error, latency, token and cost series");
        app.MapGet(api + "/requests", Admin((_, r, _) => Task.FromResult(Requests(r, recent, runtimes.Current)))).WithSummary("Admin UI: the most recent requests (live log)");
        app.MapGet(api + "/deployments", Admin((_, _, _) => Task.FromResult(KeyResult.Ok(w => DeploymentsView.Write(w, runtimes.Current, time.GetUtcNow())))))
            .WithSummary("Admin UI: deployments' health, cooldowns, latency and load");
        app.MapGet(api + "/config", Admin((_, _, _) => Task.FromResult(KeyResult.Ok(w => ConfigView.Write(w, runtimes.Current.Options)))))
            .WithSummary("Admin UI: the effective configuration, secrets masked");
        app.MapGet(api + "/server", Admin((_, _, _) => Task.FromResult(Server(server, runtimes.Current)))).WithSummary("Admin UI: where the gateway listens");
        app.MapGet(api + "/users", Admin((_, r, ct) => UsersAsync(r, identities, ct))).WithSummary("Admin UI: list users");
        app.MapGet(api + "/sandboxes", Admin((_, _, ct) => SandboxesAsync(sandboxes, keys, ct))).WithSummary("Admin UI: every live sandbox");
        app.MapGet(api + "/sandboxes/{id}", Admin((c, _, ct) => SandboxAsync(sandboxes, keys, c, ct))).WithSummary("Admin UI: inspect a sandbox");
        app.MapDelete(api + "/sandboxes/{id}", Admin((c, _, _) => KillAsync(sandboxes, c))).WithSummary("Admin UI: kill a sandbox");
    }

    private static Func<KeyRequest, CancellationToken, Task<KeyResult>> BindContext(Func<HttpContext, KeyRequest, CancellationToken, Task<KeyResult>> action, HttpContext context) =>
        (r, ct) => action(context, r, ct);

    /// <summary>An integer from the query string (KeyRequest's typed reads are for JSON bodies).</summary>
    private static long? QueryLong(KeyRequest r, string name)
    {
        if (r.String(name) is not { } text) return null;
        if (long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0) return n;
        r.Errors.Add($"'{name}' must be a non-negative integer, got '{text}'");
        return null;
    }

    private static KeyResult Session(SandboxManager sandboxes) => KeyResult.Ok(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("admin", true);
        w.WriteString("version", Telemetry.TelemetryNames.Version);
        JsonOut.Nullable(w, "sandboxes_unavailable", sandboxes.Unavailable);
        w.WriteEndObject();
    });

    /// <summary>?minutes= (window, default 60, at most a day) and ?buckets= (default 30, 1 to 240).</summary>
    private static KeyResult Overview(KeyRequest r, RecentRequests recent, TimeProvider time)
    {
        var minutes = QueryLong(r, "minutes") ?? 60;
        var buckets = QueryLong(r, "buckets") ?? 30;
        if (r.Error is { } error) return KeyResult.Fail(error);
        if (minutes is < 1 or > 1440) return KeyResult.Fail(ApiError.BadRequest("minutes must be between 1 and 1440.", "minutes"));
        if (buckets is < 1 or > 240) return KeyResult.Fail(ApiError.BadRequest("buckets must be between 1 and 240.", "buckets"));
        var to = time.GetUtcNow();
        var from = to.AddMinutes(-minutes);
        var records = recent.Snapshot(since: from);
        return KeyResult.Ok(w => OverviewSeries.Write(w, records, from, to, (int)buckets, recent));
    }

    /// <summary>
    /// The addresses Kestrel bound (a port 0 resolved, "localhost" as bound), not the configured URLs: what a client
    /// can actually reach. The metrics listener, a separate server, is given as configured.
    /// </summary>
    private static KeyResult Server(IServer server, GatewayRuntime runtime) => KeyResult.Ok(w =>
    {
        w.WriteStartObject();
        w.WriteString("version", Telemetry.TelemetryNames.Version);
        w.WriteStartArray("listen_addresses");
        foreach (var address in server.Features.Get<IServerAddressesFeature>()?.Addresses ?? []) w.WriteStringValue(address);
        w.WriteEndArray();
        JsonOut.Nullable(w, "metrics_urls", runtime.Options.Server.MetricsUrls);
        w.WriteEndObject();
    });

    /// <summary>Newest first; ?after=SEQ for only what came after the last seen, ?limit= (default 200).</summary>
    private static KeyResult Requests(KeyRequest r, RecentRequests recent, GatewayRuntime runtime)
    {
        var after = QueryLong(r, "after") ?? 0;
        var limit = QueryLong(r, "limit") ?? 200;
        if (r.Error is { } error) return KeyResult.Fail(error);
        var records = recent.Snapshot(after, limit: (int)Math.Clamp(limit, 1, recent.Capacity));
        var deployments = runtime.AllDeployments.ToDictionary(d => d.Id, StringComparer.Ordinal);
        var names = DeploymentNames.Of(runtime);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("last_seq", recent.Total);
            w.WriteNumber("capacity", recent.Capacity);
            w.WriteStartArray("data");
            for (var i = records.Count - 1; i >= 0; i--) WriteRecord(w, records[i], deployments, names);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// One request, with its deployment's name and whether its model is unpriced there (its cost of $0 is then
    /// unknown, not free). A deployment a reload has removed since has neither.
    /// </summary>
    private static void WriteRecord(Utf8JsonWriter w, RequestRecord x, Dictionary<string, Routing.Deployment> deployments, Dictionary<string, string> names)
    {
        w.WriteStartObject();
        w.WriteNumber("seq", x.Seq);
        w.WriteString("time", x.Time);
        w.WriteString("request_id", x.RequestId);
        w.WriteString("operation", x.Operation);
        JsonOut.Nullable(w, "key_alias", x.KeyAlias);
        JsonOut.Nullable(w, "key_name", x.KeyName);
        JsonOut.Nullable(w, "team_id", x.TeamId);
        JsonOut.Nullable(w, "user_id", x.UserId);
        w.WriteString("model", x.Model);
        JsonOut.Nullable(w, "deployment", x.Deployment);
        JsonOut.Nullable(w, "deployment_name", x.Deployment is { } id && names.TryGetValue(id, out var name) ? name : null);
        JsonOut.Nullable(w, "provider", x.Provider);
        w.WriteNumber("status", x.Status);
        JsonOut.Nullable(w, "error", x.ErrorCode);
        w.WriteNumber("latency_ms", Math.Round(x.LatencyMs, 2));
        w.WriteNumber("prompt_tokens", x.PromptTokens);
        w.WriteNumber("completion_tokens", x.CompletionTokens);
        w.WriteNumber("cost", Money.FromNanos(x.CostNanos));
        w.WriteBoolean("stream", x.Stream);
        w.WriteBoolean("unpriced", x.Deployment is { } d && deployments.TryGetValue(d, out var deployment) && deployment.PriceForRequest(x.Model) is null);
        w.WriteEndObject();
    }

    private static async Task<KeyResult> UsersAsync(KeyRequest r, IIdentityStore identities, CancellationToken ct)
    {
        var limit = QueryLong(r, "limit") ?? 500;
        if (r.Error is { } error) return KeyResult.Fail(error);
        var users = await identities.ListUsersAsync((int)Math.Clamp(limit, 1, 10_000), ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartArray();
            foreach (var u in users) IdentityManager.WriteUser(w, u);
            w.WriteEndArray();
        });
    }

    private static async Task<KeyResult> SandboxesAsync(SandboxManager manager, IKeyStore keys, CancellationToken ct)
    {
        if (manager.Unavailable is { } reason) return KeyResult.Fail(SandboxesOff(reason));
        var all = manager.All().ToList();
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var owner in all.Select(s => s.Owner).Distinct()) owners[owner] = await OwnerNameAsync(owner, keys, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var s in all) WriteSandbox(w, s, processes: false, owners[s.Owner]);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task<KeyResult> SandboxAsync(SandboxManager manager, IKeyStore keys, HttpContext context, CancellationToken ct)
    {
        if (manager.Unavailable is { } reason) return KeyResult.Fail(SandboxesOff(reason));
        if (Find(manager, context) is not { } s) return KeyResult.Fail(SandboxNotFound(context));
        var ownerName = await OwnerNameAsync(s.Owner, keys, ct);
        return KeyResult.Ok(w => WriteSandbox(w, s, processes: true, ownerName));
    }

    private static async Task<KeyResult> KillAsync(SandboxManager manager, HttpContext context)
    {
        if (manager.Unavailable is { } reason) return KeyResult.Fail(SandboxesOff(reason));
        if (Find(manager, context) is not { } s) return KeyResult.Fail(SandboxNotFound(context));
        await manager.EndAsync(s, "deleted");
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", s.Id);
            w.WriteString("object", "sandbox.deleted");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// An owner as people know it: "key:&lt;hash&gt;" becomes the key's alias (or its masked name, sk-...abcd), a deleted
    /// key says so; "user:&lt;id&gt;" is the user id; "admin" is the master key.
    /// </summary>
    internal static async Task<string> OwnerNameAsync(string owner, IKeyStore keys, CancellationToken ct)
    {
        if (owner == "admin") return "master key";
        if (owner.StartsWith("user:", StringComparison.Ordinal)) return "user " + owner["user:".Length..];
        if (!owner.StartsWith("key:", StringComparison.Ordinal)) return owner;
        var key = await keys.FindAsync(owner["key:".Length..], ct);
        return key is null ? "a deleted key" : "key " + (key.KeyAlias ?? key.KeyName);
    }

    private static Sandbox? Find(SandboxManager manager, HttpContext context) =>
        context.Request.RouteValues["id"] is string id ? manager.FindAny(id) : null;

    private static ApiError SandboxesOff(string reason) =>
        new(404, $"The sandbox API is off on this gateway: {reason}.", "invalid_request_error", "sandboxes_disabled");

    private static ApiError SandboxNotFound(HttpContext context) =>
        new(404, "No such live sandbox (it may have expired or been deleted).", "invalid_request_error", "sandbox_not_found", "id");

    /// <summary>The sandbox API's own shape, with its owner and, when inspected, its processes.</summary>
    private static void WriteSandbox(Utf8JsonWriter w, Sandbox s, bool processes, string? ownerName = null)
    {
        // The API's object, then the admin's extra fields spliced in before its end.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var inner = new Utf8JsonWriter(buffer)) SandboxEndpoints.Write(inner, s, "running");
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        w.WriteStartObject();
        foreach (var p in doc.RootElement.EnumerateObject()) p.WriteTo(w);
        w.WriteString("owner", s.Owner);
        if (ownerName is not null) w.WriteString("owner_name", ownerName);
        if (processes)
        {
            w.WriteStartArray("processes");
            foreach (var (pid, p) in s.Processes.OrderBy(p => p.Key))
            {
                w.WriteStartObject();
                w.WriteNumber("pid", pid);
                w.WriteString("command", p.Command.Length > 200 ? p.Command[..200] + "…" : p.Command);
                JsonOut.Nullable(w, "exit_code", p.ExitCode);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }
}
